namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Takes the available backends in turn, ignoring load and weight. An unavailable backend is skipped
/// without giving its turn to its neighbour twice.
/// </summary>
internal sealed class RoundRobinStrategy : ILoadBalancingStrategy
{
    private int _next;

    public int Pick(in BalancingContext context)
    {
        var backends = context.List;
        if (backends.Count == 0)
        {
            return BalancingContext.None;
        }

        // The first available backend from where the last turn ended, wrapping around: O(log n) on the tree.
        var start = _next % backends.Count;
        var index = backends.FirstAvailableFrom(start);
        index = index >= 0 ? index : backends.FirstAvailableFrom(0);
        if (index >= 0)
        {
            _next = (index + 1) % backends.Count;
        }

        return index;
    }
}
