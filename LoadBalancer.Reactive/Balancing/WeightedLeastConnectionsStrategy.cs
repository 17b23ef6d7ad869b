namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// Picks the available backend with the fewest active connections per unit of weight (active/weight),
/// so a backend of weight 2 carries twice the connections of one of weight 1. Ties rotate as in
/// <see cref="LeastConnectionsStrategy"/>.
/// </summary>
internal sealed class WeightedLeastConnectionsStrategy : ILoadBalancingStrategy
{
    public int Pick(in BalancingContext context)
    {
        var backends = context.Backends;
        var count = backends.Length;
        var best = BalancingContext.None;
        if (count == 0)
        {
            return best;
        }

        var start = (int)(context.DecisionNumber % count);
        for (var offset = 0; offset < count; offset++)
        {
            var index = (start + offset) % count;
            var candidate = backends[index];
            if (candidate.Available && (best < 0 || LessLoaded(candidate, backends[best])))
            {
                best = index;
            }
        }

        return best;
    }

    // a.Active / a.Weight < b.Active / b.Weight, compared without division or rounding.
    private static bool LessLoaded(BackendSnapshot a, BackendSnapshot b) =>
        (long)a.ActiveConnections * b.Weight < (long)b.ActiveConnections * a.Weight;
}
