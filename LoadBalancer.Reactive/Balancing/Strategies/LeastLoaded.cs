namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>How a least-loaded strategy compares two backends.</summary>
internal interface ILoadComparer
{
    /// <summary>Whether <paramref name="candidate"/> is strictly less loaded than <paramref name="best"/>.</summary>
    static abstract bool LessLoaded(BackendSnapshot candidate, BackendSnapshot best);
}

/// <summary>
/// The scan behind the least-loaded strategies: the least loaded available backend, with ties rotating.
/// The scan starts one backend further on for each decision, so equally loaded backends take turns
/// instead of the first one always winning.
/// </summary>
internal static class LeastLoaded
{
    public static int Pick<TComparer>(in BalancingContext context)
        where TComparer : ILoadComparer
    {
        var backends = context.Backends;
        var count = backends.Length;
        var best = BalancingContext.None;
        if (count == 0)
        {
            return best;
        }

        var start = (int)(context.DecisionNumber % count);
        for (var offset = 0; offset < count; offset++)
        {
            var index = (start + offset) % count;
            var candidate = backends[index];
            if (candidate.Available && (best < 0 || TComparer.LessLoaded(candidate, backends[best])))
            {
                best = index;
            }
        }

        return best;
    }
}
