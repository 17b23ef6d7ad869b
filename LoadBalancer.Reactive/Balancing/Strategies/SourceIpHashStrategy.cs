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
        var backends = context.Backends;
        var available = 0;
        foreach (var backend in backends)
        {
            if (backend.Available)
            {
                available++;
            }
        }

        if (available == 0)
        {
            return BalancingContext.None;
        }

        var slot = (long)(StableHash.ClientKey(context) % (ulong)available);
        for (var index = 0; index < backends.Length; index++)
        {
            if (backends[index].Available && slot-- == 0)
            {
                return index;
            }
        }

        return BalancingContext.None;
    }
}
