namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Hashes the client's IP address onto the available backends, so a client keeps reaching the same
/// backend while the set of available backends stays the same (sessions that live on one server).
/// When that set changes most clients move; <see cref="MaglevStrategy"/> moves only the ones it must.
/// The available backends are counted in address order, not in the order they joined, so balancers of a
/// fleet with the same members pick the same backend for a client.
/// </summary>
/// <remarks>
/// The hash picks the n-th available backend in address order: a Fenwick tree over the address order counts
/// the available ones, so finding it is O(log n). Which backends came or went since the last pick is found by
/// comparing the backend tree with the previous one, visiting only what the two do not share.
/// </remarks>
internal sealed class SourceIpHashStrategy : ILoadBalancingStrategy
{
    private readonly Action<int> _sync;
    private int[] _byAddress = [];
    private int[] _rankOf = [];
    private bool[] _available = [];
    private int[] _counts = [];
    private long _membershipVersion = -1;
    private BackendList? _seen;
    private BackendList _current = BackendList.Empty;

    public SourceIpHashStrategy() => _sync = Sync;

    public int Pick(in BalancingContext context)
    {
        var backends = context.List;
        _current = backends;
        if (_membershipVersion != context.MembershipVersion || _seen is null || _seen.Count != backends.Count)
        {
            Reset(backends);
            _membershipVersion = context.MembershipVersion;
        }
        else
        {
            backends.ForEachChanged(_seen, _sync);
        }

        _seen = backends;
        if (backends.AvailableCount == 0)
        {
            return BalancingContext.None;
        }

        var slot = (int)(StableHash.ClientKey(context) % (ulong)backends.AvailableCount);
        return _byAddress[NthAvailableRank(slot)];
    }

    private void Reset(BackendList backends)
    {
        var count = backends.Count;
        _byAddress = [.. Enumerable.Range(0, count).OrderBy(i => backends[i].Address, StringComparer.OrdinalIgnoreCase)];
        _rankOf = new int[count];
        for (var rank = 0; rank < count; rank++)
        {
            _rankOf[_byAddress[rank]] = rank;
        }

        _available = new bool[count];
        _counts = new int[count + 1];
        for (var index = 0; index < count; index++)
        {
            if (backends[index].Available)
            {
                _available[index] = true;
                Add(_rankOf[index], 1);
            }
        }
    }

    private void Sync(int index)
    {
        var available = _current[index].Available;
        if (available != _available[index])
        {
            _available[index] = available;
            Add(_rankOf[index], available ? 1 : -1);
        }
    }

    // Fenwick tree over ranks 0..n-1 (stored 1-based).
    private void Add(int rank, int delta)
    {
        for (var i = rank + 1; i < _counts.Length; i += i & -i)
        {
            _counts[i] += delta;
        }
    }

    // The rank of the (nth+1)-th available backend in address order, by descending the Fenwick tree.
    private int NthAvailableRank(int nth)
    {
        var position = 0;
        for (var step = HighestPowerOfTwo(_counts.Length - 1); step > 0; step >>= 1)
        {
            if (position + step < _counts.Length && _counts[position + step] <= nth)
            {
                position += step;
                nth -= _counts[position];
            }
        }

        return position;
    }

    private static int HighestPowerOfTwo(int n) => n <= 0 ? 0 : 1 << (31 - int.LeadingZeroCount(n));
}
