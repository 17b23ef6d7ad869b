namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Hashes the client's IP address onto the available backends, so a client keeps reaching the same
/// backend while the set of available backends stays the same (sessions that live on one server).
/// When that set changes most clients move; <see cref="MaglevStrategy"/> moves only the ones it must.
/// The available backends are counted in address order, not in the order they joined, so balancers of a
/// fleet with the same members pick the same backend for a client.
/// </summary>
internal sealed class SourceIpHashStrategy : ILoadBalancingStrategy
{
    private int[] _byAddress = [];
    private long _membershipVersion = -1;

    public int Pick(in BalancingContext context)
    {
        var backends = context.Backends;
        if (_membershipVersion != context.MembershipVersion || _byAddress.Length != backends.Length)
        {
            _byAddress = [.. Enumerable.Range(0, backends.Length).OrderBy(i => backends[i].Address, StringComparer.OrdinalIgnoreCase)];
            _membershipVersion = context.MembershipVersion;
        }

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
        foreach (var index in _byAddress)
        {
            if (backends[index].Available && slot-- == 0)
            {
                return index;
            }
        }

        return BalancingContext.None;
    }
}
