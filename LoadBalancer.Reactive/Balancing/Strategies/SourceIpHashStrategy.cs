namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Hashes the client's IP address onto the available backends, so a client keeps reaching the same
/// backend while the set of available backends stays the same (sessions that live on one server).
/// When that set changes most clients move; <see cref="MaglevStrategy"/> moves only the ones it must.
/// </summary>
internal sealed class SourceIpHashStrategy : ILoadBalancingStrategy
{
    public int Pick(in BalancingContext context)
    {
        var backends = context.List;
        if (backends.AvailableCount == 0)
        {
            return BalancingContext.None;
        }

        // The hash picks the n-th available backend in list order, found on the tree in O(log n).
        return backends.NthAvailable((int)(StableHash.ClientKey(context) % (ulong)backends.AvailableCount));
    }
}
