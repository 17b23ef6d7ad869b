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
        var backends = context.Backends;
        var count = backends.Length;
        for (var offset = 0; offset < count; offset++)
        {
            var index = (_next + offset) % count;
            if (backends[index].Available)
            {
                _next = (index + 1) % count;
                return index;
            }
        }

        return BalancingContext.None;
    }
}
