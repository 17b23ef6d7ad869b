namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Smooth weighted round robin, the algorithm nginx uses: every pick adds each available backend's
/// weight to its running score, takes the highest score (the first on a tie), and subtracts the total
/// weight from the winner. Weights 5, 1, 1 give a a b a c a a: in proportion, and interleaved rather
/// than in bursts of one backend.
/// </summary>
/// <remarks>
/// Exactly nginx's sequence, in O(log n) per pick rather than nginx's O(n). After <c>t</c> picks an available
/// backend's score is a line, <c>offset + weight * t</c>, so it is kept as its offset, and the highest score is
/// found by a kinetic tournament: a tree over the backends where each node keeps the winner of its two halves
/// and the pick at which that winner would be overtaken (lines of different slopes cross), refreshed only where
/// that time has come. A pick moves one line (the winner's offset goes down by the total weight); a backend that
/// stops or starts being available, or whose slow-start weight moves, has its line frozen, restarted or rebased.
/// Which backends changed is found by comparing the backend tree with the one of the previous pick, visiting
/// only what the two do not share.
/// </remarks>
internal sealed class WeightedRoundRobinStrategy : ILoadBalancingStrategy
{
    // Offsets and weights are rebased before picks times weights could come near a long's range.
    private readonly long _rebaseAfter;
    private readonly Action<int> _sync;
    private long _membershipVersion = -1;
    private BackendList? _seen;
    private BackendList _current = BackendList.Empty;
    private long _picks;

    // Per backend: its line (offset, weight) while available, its score frozen while not.
    private long[] _offsets = [];
    private long[] _weights = [];
    private long[] _frozen = [];
    private bool[] _active = [];

    // The tournament, heap-ordered (node 1 is the root, leaves from _leaves): each node's winner and the
    // earliest pick at which any certificate in its subtree fails.
    private int _leaves;
    private int[] _winner = [];
    private long[] _failsAt = [];

    public WeightedRoundRobinStrategy()
        : this(rebaseAfter: 1L << 36)
    {
    }

    /// <summary>A strategy that rebases its lines every <paramref name="rebaseAfter"/> picks (tests make it small).</summary>
    internal WeightedRoundRobinStrategy(long rebaseAfter)
    {
        _rebaseAfter = rebaseAfter;
        _sync = Sync;
    }

    public int Pick(in BalancingContext context)
    {
        var backends = context.List;
        _current = backends;
        if (_membershipVersion != context.MembershipVersion || _seen is null || _seen.Count != backends.Count || _picks >= _rebaseAfter)
        {
            // New members or weights: start every score afresh, as nginx does on reload (a rebase keeps them).
            Reset(backends, keepScores: _membershipVersion == context.MembershipVersion && _seen?.Count == backends.Count);
            _membershipVersion = context.MembershipVersion;
        }
        else
        {
            backends.ForEachChanged(_seen, _sync);
        }

        _seen = backends;
        _picks++;
        Refresh(1);
        var best = _winner[1];
        if (best >= 0)
        {
            _offsets[best] -= backends.AvailableWeight;
            Update(best);
        }

        return best;
    }

    private long Score(int index) => _active[index] ? _offsets[index] + (_weights[index] * _picks) : _frozen[index];

    private void Reset(BackendList backends, bool keepScores)
    {
        var count = backends.Count;
        var scores = new long[count];
        for (var i = 0; keepScores && i < count; i++)
        {
            scores[i] = Score(i);
        }

        _picks = 0;
        _offsets = new long[count];
        _weights = new long[count];
        _frozen = scores;
        _active = new bool[count];
        _leaves = 1;
        while (_leaves < count)
        {
            _leaves *= 2;
        }

        _winner = new int[2 * _leaves];
        _failsAt = new long[2 * _leaves];
        Array.Fill(_winner, BalancingContext.None);
        Array.Fill(_failsAt, long.MaxValue);
        for (var i = 0; i < count; i++)
        {
            var backend = backends[i];
            if (backend.Available)
            {
                _active[i] = true;
                _weights[i] = backend.EffectiveWeight;
                _offsets[i] = scores[i];
                _winner[_leaves + i] = i;
            }
        }

        for (var node = _leaves - 1; node >= 1; node--)
        {
            Compute(node);
        }
    }

    // Brings one backend's line in line with what it is now, before this pick's time moves on.
    private void Sync(int index)
    {
        var backend = _current[index];
        var available = backend.Available;
        var weight = available ? backend.EffectiveWeight : 0;
        if (available == _active[index] && weight == _weights[index])
        {
            return;
        }

        var score = Score(index);
        _active[index] = available;
        _weights[index] = weight;
        _offsets[index] = score - (weight * _picks);
        _frozen[index] = score;
        _winner[_leaves + index] = available ? index : BalancingContext.None;
        Update(index);
    }

    // Recomputes the nodes above a leaf whose line changed.
    private void Update(int index)
    {
        for (var node = (_leaves + index) / 2; node >= 1; node /= 2)
        {
            Compute(node);
        }
    }

    // Recomputes every node whose certificate has failed by now, children first.
    private void Refresh(int node)
    {
        if (node >= _leaves || _failsAt[node] > _picks)
        {
            return;
        }

        Refresh(2 * node);
        Refresh((2 * node) + 1);
        Compute(node);
    }

    private void Compute(int node)
    {
        int left = _winner[2 * node], right = _winner[(2 * node) + 1];
        int winner, loser;
        if (left < 0 || right < 0)
        {
            (winner, loser) = (left < 0 ? right : left, BalancingContext.None);
        }
        else
        {
            (winner, loser) = Beats(right, left) ? (right, left) : (left, right);
        }

        _winner[node] = winner;
        var failsAt = loser < 0 ? long.MaxValue : Overtakes(loser, winner);
        if (node * 2 < _leaves)
        {
            failsAt = Math.Min(failsAt, Math.Min(_failsAt[2 * node], _failsAt[(2 * node) + 1]));
        }

        _failsAt[node] = failsAt;
    }

    // Whether a's score beats b's now: higher, or equal and first in the list.
    private bool Beats(int a, int b)
    {
        var difference = Score(a) - Score(b);
        return difference > 0 || (difference == 0 && a < b);
    }

    // The first pick after now at which the loser's line beats the winner's; never if it does not climb faster.
    private long Overtakes(int loser, int winner)
    {
        var climb = _weights[loser] - _weights[winner];
        if (climb <= 0)
        {
            return long.MaxValue;
        }

        // The loser beats the winner at pick t when gap < climb * t (or <= on a tie it wins by coming first).
        var gap = _offsets[winner] - _offsets[loser];
        var at = loser < winner ? CeilingDivide(gap, climb) : FloorDivide(gap, climb) + 1;
        return Math.Max(at, _picks + 1);
    }

    private static long FloorDivide(long a, long b) => (a / b) - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);

    private static long CeilingDivide(long a, long b) => -FloorDivide(-a, b);
}
