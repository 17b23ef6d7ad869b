namespace LoadBalancer.Reactive.Balancing;

/// <summary>Picks the available backend with the fewest active connections; ties rotate (see <see cref="LeastLoaded"/>).</summary>
internal sealed class LeastConnectionsStrategy : ILoadBalancingStrategy, ILoadComparer
{
    public int Pick(in BalancingContext context) => LeastLoaded.Pick<LeastConnectionsStrategy>(context);

    public static bool LessLoaded(BackendSnapshot candidate, BackendSnapshot best) =>
        candidate.ActiveConnections < best.ActiveConnections;
}
