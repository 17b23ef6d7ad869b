namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>How a least-loaded strategy compares two backends.</summary>
internal interface ILoadComparer
{
    /// <summary>Whether <paramref name="candidate"/> is strictly less loaded than <paramref name="best"/>.</summary>
    static abstract bool LessLoaded(BackendSnapshot candidate, BackendSnapshot best);
}

/// <summary>
/// The scan behind the least-loaded strategies: the least loaded available backend, with ties rotating
/// among the available backends (as HAProxy's leastconn rotates among equals). Each decision starts the
/// scan one available backend further on, so equally loaded backends take turns instead of the first one
/// always winning. Counting only available backends matters: counting a dead one too would hand its turn
/// to the backend after it, which then wins every tie (twice the connections of the others with one of
/// three down).
/// </summary>
internal static class LeastLoaded
{
    public static int Pick<TComparer>(in BalancingContext context)
        where TComparer : ILoadComparer
    {
        var backends = context.Backends;
        var available = 0;
        foreach (var backend in backends)
        {
            available += backend.Available ? 1 : 0;
        }

        if (available == 0)
        {
            return BalancingContext.None;
        }

        // The scan starts at the (decision mod available)-th available backend and wraps around.
        var skip = (int)(context.DecisionNumber % available);
        var start = 0;
        while (!backends[start].Available || skip-- > 0)
        {
            start++;
        }

        var count = backends.Length;
        var best = BalancingContext.None;
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
