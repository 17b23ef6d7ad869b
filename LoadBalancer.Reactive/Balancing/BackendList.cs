using System.Collections;
using System.Collections.Immutable;
using System.Runtime.InteropServices;
using LoadBalancer.Reactive.Balancing.Strategies;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The backends in configuration order, as a persistent balanced tree of small chunks: replacing one backend
/// copies one chunk and the nodes above it (O(log n)), and every node keeps what the built-in strategies
/// pick by over its part of the list (how many are available, their total weight, the least loaded), so a
/// pick is O(log n) too. Immutable; versions share every untouched node.
/// </summary>
/// <remarks>
/// Up to <see cref="ChunkSize"/> backends are one chunk, so a small pool is one array, as before. Joining and
/// leaving rebuild the tree (O(n)), as they rebuild the address index.
/// </remarks>
internal abstract class BackendList : IReadOnlyList<BackendSnapshot>
{
    /// <summary>Backends per leaf: a leaf is copied and scanned whole, a tree above it is walked.</summary>
    internal const int ChunkSize = 16;

    // What the strategies search by, over this node's backends. A leaf works it out when first asked (a small
    // pool's leaf is replaced at every step, and only the one a pick sees needs it), until then its available
    // count is -1; a branch when it is made.
    private int _availableCount;
    private long _availableWeight;
    private BackendSnapshot? _leastConnections;
    private BackendSnapshot? _leastWeighted;

    private BackendList(int count)
    {
        Count = count;
        _availableCount = -1;
    }

    private BackendList(BackendList left, BackendList right)
    {
        Count = left.Count + right.Count;
        _availableCount = left.AvailableCount + right.AvailableCount;
        _availableWeight = left.AvailableWeight + right.AvailableWeight;
        _leastConnections = Lesser<LeastConnectionsStrategy>(left.LeastConnections, right.LeastConnections);
        _leastWeighted = Lesser<WeightedLeastConnectionsStrategy>(left.LeastWeighted, right.LeastWeighted);
    }

    /// <summary>No backends.</summary>
    public static BackendList Empty { get; } = new Chunk([]);

    /// <summary>How many backends there are.</summary>
    public int Count { get; }

    /// <summary>How many backends there are (as an array's <c>Length</c>).</summary>
    public int Length => Count;

    /// <summary>How many are <see cref="BackendSnapshot.Available"/>.</summary>
    public int AvailableCount => Summarized()._availableCount;

    /// <summary>The sum of the available backends' <see cref="BackendSnapshot.EffectiveWeight"/>.</summary>
    public long AvailableWeight => Summarized()._availableWeight;

    /// <summary>An available backend no other is less loaded than by least connections; null when none is available.</summary>
    public BackendSnapshot? LeastConnections => Summarized()._leastConnections;

    /// <summary>An available backend no other is less loaded than by weighted least connections; null when none is available.</summary>
    public BackendSnapshot? LeastWeighted => Summarized()._leastWeighted;

    public BackendSnapshot this[int index]
    {
        get
        {
            var node = this;
            while (node is Branch branch)
            {
                if (index < branch.Left.Count)
                {
                    node = branch.Left;
                }
                else
                {
                    index -= branch.Left.Count;
                    node = branch.Right;
                }
            }

            return ((Chunk)node).Items[index];
        }
    }

    /// <summary>A list of <paramref name="backends"/>, in their order.</summary>
    public static BackendList From(ReadOnlySpan<BackendSnapshot> backends) =>
        backends.Length <= ChunkSize
            ? new Chunk(backends.ToArray())
            : new Branch(From(backends[..(backends.Length / 2)]), From(backends[(backends.Length / 2)..]));

    /// <summary>A list of <paramref name="backends"/>, in their order.</summary>
    public static BackendList From(ImmutableArray<BackendSnapshot> backends) => backends.IsDefault ? Empty : From(backends.AsSpan());

    /// <summary>A list of <paramref name="backends"/>, in their order.</summary>
    public static BackendList From(IEnumerable<BackendSnapshot> backends) => From(backends.ToArray().AsSpan());

    /// <summary>The list with the backend at <paramref name="index"/> replaced: O(log n).</summary>
    public BackendList SetItem(int index, BackendSnapshot backend)
    {
        if (this is Branch branch)
        {
            return index < branch.Left.Count
                ? new Branch(branch.Left.SetItem(index, backend), branch.Right)
                : new Branch(branch.Left, branch.Right.SetItem(index - branch.Left.Count, backend));
        }

        var chunk = ((Chunk)this).Items.AsSpan().ToArray();
        chunk[index] = backend;
        return new Chunk(chunk);
    }

    /// <summary>The list with <paramref name="backend"/> added at the end (rebuilt: O(n)).</summary>
    public BackendList Add(BackendSnapshot backend) => From(ToImmutableArray().Add(backend));

    /// <summary>The list without the backend at <paramref name="index"/> (rebuilt: O(n)).</summary>
    public BackendList RemoveAt(int index) => From(ToImmutableArray().RemoveAt(index));

    /// <summary>The backends as an array, made once per version (O(n) the first time).</summary>
    public ImmutableArray<BackendSnapshot> ToImmutableArray()
    {
        // A chunk is never written after it is made, so it can be handed out as it is.
        if (this is Chunk chunk)
        {
            return ImmutableCollectionsMarshal.AsImmutableArray(chunk.Items);
        }

        var branch = (Branch)this;
        if (branch.All.IsDefault)
        {
            var all = new BackendSnapshot[Count];
            CopyTo(all, 0);
            branch.All = ImmutableCollectionsMarshal.AsImmutableArray(all);
        }

        return branch.All;
    }

    /// <summary>The index of the <paramref name="nth"/> available backend (counting from 0), or -1.</summary>
    public int NthAvailable(int nth) => FindByRunningTotal<CountMeasure>(nth);

    /// <summary>The first available backend at or after <paramref name="start"/>, or -1.</summary>
    public int FirstAvailableFrom(int start) => FirstFrom(start, new AvailableSearch());

    /// <summary>
    /// The first available backend at or after <paramref name="start"/> that is as little loaded (by
    /// <typeparamref name="TComparer"/>) as <paramref name="least"/>, the least loaded of all; or -1.
    /// </summary>
    public int FirstAsLeastFrom<TComparer>(int start, BackendSnapshot least)
        where TComparer : ILoadComparer =>
        FirstFrom(start, new LeastSearch<TComparer>(least));

    /// <summary>The total <see cref="BackendSnapshot.EffectiveWeight"/> of the available backends before <paramref name="index"/>.</summary>
    public long AvailableWeightBefore(int index)
    {
        long weight = 0;
        var node = this;
        while (node is Branch branch)
        {
            if (index < branch.Left.Count)
            {
                node = branch.Left;
            }
            else
            {
                weight += branch.Left.AvailableWeight;
                index -= branch.Left.Count;
                node = branch.Right;
            }
        }

        var items = ((Chunk)node).Items;
        for (var i = 0; i < index && i < items.Length; i++)
        {
            weight += items[i].Available ? items[i].EffectiveWeight : 0;
        }

        return weight;
    }

    /// <summary>
    /// The available backend where the running total of available weights, in order, first exceeds
    /// <paramref name="ticket"/> (0 ≤ ticket &lt; <see cref="AvailableWeight"/>); -1 past the end.
    /// </summary>
    public int FindByWeight(long ticket) => FindByRunningTotal<WeightMeasure>(ticket);

    /// <summary>
    /// Calls <paramref name="changed"/> with the index of every backend that is not the same object in
    /// <paramref name="other"/>, walking only the parts the two versions do not share: O(k log n) for k changes
    /// between versions of one list. Both must have the same count.
    /// </summary>
    public void ForEachChanged(BackendList other, Action<int> changed) => ForEachChanged(other, changed, 0);

    public IEnumerator<BackendSnapshot> GetEnumerator()
    {
        var array = ToImmutableArray();
        for (var i = 0; i < array.Length; i++)
        {
            yield return array[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static BackendSnapshot? Lesser<TComparer>(BackendSnapshot? first, BackendSnapshot? second)
        where TComparer : ILoadComparer =>
        first is null ? second : second is null ? first : TComparer.LessLoaded(second, first) ? second : first;

    private BackendList Summarized()
    {
        if (Volatile.Read(ref _availableCount) < 0)
        {
            // Worked out in locals and then stored, so two threads that both do it store the same values.
            var count = 0;
            long weight = 0;
            BackendSnapshot? leastConnections = null, leastWeighted = null;
            foreach (var backend in ((Chunk)this).Items)
            {
                if (backend.Available)
                {
                    count++;
                    weight += backend.EffectiveWeight;
                    leastConnections = Lesser<LeastConnectionsStrategy>(leastConnections, backend);
                    leastWeighted = Lesser<WeightedLeastConnectionsStrategy>(leastWeighted, backend);
                }
            }

            (_availableWeight, _leastConnections, _leastWeighted) = (weight, leastConnections, leastWeighted);
            Volatile.Write(ref _availableCount, count);
        }

        return this;
    }

    private void ForEachChanged(BackendList other, Action<int> changed, int offset)
    {
        if (ReferenceEquals(this, other))
        {
            return;
        }

        if (this is Branch branch && other is Branch otherBranch && branch.Left.Count == otherBranch.Left.Count)
        {
            branch.Left.ForEachChanged(otherBranch.Left, changed, offset);
            branch.Right.ForEachChanged(otherBranch.Right, changed, offset + branch.Left.Count);
            return;
        }

        for (var i = 0; i < Count; i++)
        {
            if (!ReferenceEquals(this[i], other[i]))
            {
                changed(offset + i);
            }
        }
    }

    private void CopyTo(BackendSnapshot[] target, int offset)
    {
        if (this is Branch branch)
        {
            branch.Left.CopyTo(target, offset);
            branch.Right.CopyTo(target, offset + branch.Left.Count);
            return;
        }

        ((Chunk)this).Items.CopyTo(target, offset);
    }

    // The first index at or after start whose backend the search accepts, visiting only subtrees that may hold one.
    private int FirstFrom<TSearch>(int start, TSearch search)
        where TSearch : struct, ISearch
    {
        if (start >= Count || !search.MayContain(this))
        {
            return BalancingContext.None;
        }

        if (this is Branch branch)
        {
            if (start < branch.Left.Count)
            {
                var found = branch.Left.FirstFrom(start, search);
                if (found >= 0)
                {
                    return found;
                }
            }

            var right = branch.Right.FirstFrom(Math.Max(start - branch.Left.Count, 0), search);
            return right < 0 ? BalancingContext.None : branch.Left.Count + right;
        }

        var items = ((Chunk)this).Items;
        for (var i = Math.Max(start, 0); i < items.Length; i++)
        {
            if (search.Accepts(items[i]))
            {
                return i;
            }
        }

        return BalancingContext.None;
    }

    // A leaf: up to ChunkSize backends in one array.
    private sealed class Chunk(BackendSnapshot[] items) : BackendList(items.Length)
    {
        public BackendSnapshot[] Items { get; } = items;
    }

    // Two halves, and the whole as one array once someone asked for it.
    private sealed class Branch(BackendList left, BackendList right) : BackendList(left, right)
    {
        public BackendList Left { get; } = left;

        public BackendList Right { get; } = right;

        public ImmutableArray<BackendSnapshot> All { get; set; }
    }

    // The available backend where the running total of TMeasure over available backends, in order, first exceeds
    // target: one descent, the subtrees' totals skipping whole halves.
    private int FindByRunningTotal<TMeasure>(long target)
        where TMeasure : IMeasure
    {
        if (target < 0 || target >= TMeasure.Of(this))
        {
            return BalancingContext.None;
        }

        var node = this;
        var offset = 0;
        while (node is Branch branch)
        {
            if (target < TMeasure.Of(branch.Left))
            {
                node = branch.Left;
            }
            else
            {
                target -= TMeasure.Of(branch.Left);
                offset += branch.Left.Count;
                node = branch.Right;
            }
        }

        var items = ((Chunk)node).Items;
        for (var i = 0; i < items.Length; i++)
        {
            if (items[i].Available)
            {
                target -= TMeasure.Of(items[i]);
                if (target < 0)
                {
                    return offset + i;
                }
            }
        }

        return BalancingContext.None;
    }

    /// <summary>What a running total counts: available backends, or their effective weight.</summary>
    private interface IMeasure
    {
        static abstract long Of(BackendList subtree);

        static abstract long Of(BackendSnapshot available);
    }

    private readonly struct CountMeasure : IMeasure
    {
        public static long Of(BackendList subtree) => subtree.AvailableCount;

        public static long Of(BackendSnapshot available) => 1;
    }

    private readonly struct WeightMeasure : IMeasure
    {
        public static long Of(BackendList subtree) => subtree.AvailableWeight;

        public static long Of(BackendSnapshot available) => available.EffectiveWeight;
    }

    private interface ISearch
    {
        bool MayContain(BackendList node);

        bool Accepts(BackendSnapshot backend);
    }

    private readonly struct AvailableSearch : ISearch
    {
        public bool MayContain(BackendList node) => node.AvailableCount > 0;

        public bool Accepts(BackendSnapshot backend) => backend.Available;
    }

    // A backend is as little loaded as the least when the least is not strictly less loaded than it.
    private readonly struct LeastSearch<TComparer>(BackendSnapshot least) : ISearch
        where TComparer : ILoadComparer
    {
        public bool MayContain(BackendList node) => TComparer.LeastIn(node) is { } candidate && !TComparer.LessLoaded(least, candidate);

        public bool Accepts(BackendSnapshot backend) => backend.Available && !TComparer.LessLoaded(least, backend);
    }
}
