namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Smooth weighted round robin, the algorithm nginx uses: every pick adds each available backend's
/// weight to its running score, takes the highest score (the first on a tie), and subtracts the total
/// weight from the winner. Weights 5, 1, 1 give a a b a c a a: in proportion, and interleaved rather
/// than in bursts of one backend.
/// </summary>
internal sealed class WeightedRoundRobinStrategy : ILoadBalancingStrategy
{
    private long[] _scores = [];
    private long _membershipVersion = -1;

    public int Pick(in BalancingContext context)
    {
        var backends = context.Backends;
        if (_membershipVersion != context.MembershipVersion || _scores.Length != backends.Length)
        {
            // New members or weights: start every score afresh, as nginx does on reload.
            _scores = new long[backends.Length];
            _membershipVersion = context.MembershipVersion;
        }

        long total = 0;
        var best = BalancingContext.None;
        for (var index = 0; index < backends.Length; index++)
        {
            var backend = backends[index];
            if (!backend.Available)
            {
                continue;
            }

            _scores[index] += backend.EffectiveWeight;
            total += backend.EffectiveWeight;
            if (best < 0 || _scores[index] > _scores[best])
            {
                best = index;
            }
        }

        if (best >= 0)
        {
            _scores[best] -= total;
        }

        return best;
    }
}
