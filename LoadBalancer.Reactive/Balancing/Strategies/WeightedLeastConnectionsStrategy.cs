namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Picks the available backend with the fewest active connections per unit of weight (active/weight),
/// so a backend of weight 2 carries twice the connections of one of weight 1. Ties rotate (see <see cref="LeastLoaded"/>).
/// </summary>
internal sealed class WeightedLeastConnectionsStrategy : ILoadBalancingStrategy, ILoadComparer
{
    public int Pick(in BalancingContext context) => LeastLoaded.Pick<WeightedLeastConnectionsStrategy>(context);

    // a.Active / a.Weight < b.Active / b.Weight (weights scaled by slow start), compared without division.
    public static bool LessLoaded(BackendSnapshot candidate, BackendSnapshot best) =>
        candidate.ActiveConnections * best.EffectiveWeight < best.ActiveConnections * candidate.EffectiveWeight;

    public static BackendSnapshot? LeastIn(BackendList backends) => backends.LeastWeighted;
}
