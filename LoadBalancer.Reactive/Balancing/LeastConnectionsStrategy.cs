namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// Picks the available backend with the fewest active connections. Ties rotate: the scan starts one
/// backend further on for each decision, so equally loaded backends take turns instead of the first
/// one always winning.
/// </summary>
internal sealed class LeastConnectionsStrategy : ILoadBalancingStrategy
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
            if (candidate.Available && (best < 0 || candidate.ActiveConnections < backends[best].ActiveConnections))
            {
                best = index;
            }
        }

        return best;
    }
}
