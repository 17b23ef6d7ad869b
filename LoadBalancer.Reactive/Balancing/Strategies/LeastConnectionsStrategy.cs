namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Picks the available backend with the fewest active connections; ties rotate (see <see cref="LeastLoaded"/>).
/// A backend in slow start counts as that share of a backend: (active + 1) / share is compared, which
/// orders exactly as active alone when no backend is ramping.
/// </summary>
internal sealed class LeastConnectionsStrategy : ILoadBalancingStrategy, ILoadComparer
{
    public int Pick(in BalancingContext context) => LeastLoaded.Pick<LeastConnectionsStrategy>(context);

    public static bool LessLoaded(BackendSnapshot candidate, BackendSnapshot best) =>
        (candidate.ActiveConnections + 1L) * best.SlowStartPercent < (best.ActiveConnections + 1L) * candidate.SlowStartPercent;

    public static BackendSnapshot? LeastIn(BackendList backends) => backends.LeastConnections;
}
