namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Maglev consistent hashing (Eisenbud et al., NSDI 2016): the client's IP address indexes a lookup
/// table of <see cref="TableSize"/> entries that the backends fill in turn, each in the order of its own
/// pseudo-random permutation, taking turns in proportion to their weights. Every backend owns a share of
/// entries matching its weight, and when a backend leaves, little beyond the keys it owned moves.
/// </summary>
/// <remarks>
/// The table is rebuilt only when members or weights change (<see cref="BalancingContext.MembershipVersion"/>).
/// A member that is merely unavailable keeps its entries; lookups probe forward past them, so only its
/// own clients move, and they come back when it does. The table depends on the members' addresses and weights only,
/// not on their order, so every balancer of a fleet with the same members picks the same backend for a client.
/// </remarks>
internal sealed class MaglevStrategy : ILoadBalancingStrategy
{
    /// <summary>A prime, as the permutations require; 65537 keeps shares within a fraction of a percent for hundreds of backends.</summary>
    public const int TableSize = 65537;

    private int[] _table = [];
    private long _membershipVersion = -1;

    public int Pick(in BalancingContext context)
    {
        var backends = context.List;
        if (_membershipVersion != context.MembershipVersion || _table.Length == 0)
        {
            _table = Build(backends);
            _membershipVersion = context.MembershipVersion;
        }

        if (_table.Length == 0)
        {
            return BalancingContext.None;
        }

        var start = (int)(StableHash.ClientKey(context) % TableSize);
        for (var probe = 0; probe < TableSize; probe++)
        {
            var index = _table[(start + probe) % TableSize];
            if (index < backends.Count && backends[index].Available)
            {
                return index;
            }
        }

        return BalancingContext.None;
    }

    /// <summary>Fills the lookup table with backend indices; empty when no backend has a weight.</summary>
    internal static int[] Build(IReadOnlyList<BackendSnapshot> backends)
    {
        var members = new List<int>();
        for (var index = 0; index < backends.Count; index++)
        {
            if (backends[index].Weight > 0)
            {
                members.Add(index);
            }
        }

        if (members.Count == 0)
        {
            return [];
        }

        // Members take their turns in address order, not in the order they joined: balancers of a fleet that saw the
        // same members join in different orders (one restarted, one added a backend back) still build the same table.
        members.Sort((a, b) => StringComparer.OrdinalIgnoreCase.Compare(backends[a].Address, backends[b].Address));

        // Each member's permutation is offset + j * skip (mod TableSize), from two independent hashes of
        // its address, so every balancer with the same members builds the same table.
        var offsets = new long[members.Count];
        var skips = new long[members.Count];
        var next = new long[members.Count];
        var turns = new int[members.Count];
        var divisor = members.Select(m => backends[m].Weight).Aggregate(Gcd);
        for (var i = 0; i < members.Count; i++)
        {
            var address = backends[members[i]].Address;
            offsets[i] = (long)(StableHash.Hash(address, seed: 0xA5A5) % TableSize);
            skips[i] = (long)(StableHash.Hash(address, seed: 0x5A5A) % (TableSize - 1)) + 1;
            turns[i] = backends[members[i]].Weight / divisor;
        }

        var table = new int[TableSize];
        Array.Fill(table, -1);
        var filled = 0;
        while (true)
        {
            for (var i = 0; i < members.Count; i++)
            {
                // A member of weight w takes w turns per round (weights reduced by their common divisor).
                for (var turn = 0; turn < turns[i]; turn++)
                {
                    long slot;
                    do
                    {
                        slot = (offsets[i] + (next[i] * skips[i])) % TableSize;
                        next[i]++;
                    }
                    while (table[slot] >= 0);

                    table[slot] = members[i];
                    if (++filled == TableSize)
                    {
                        return table;
                    }
                }
            }
        }
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
