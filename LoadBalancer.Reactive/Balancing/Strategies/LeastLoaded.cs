namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>How a least-loaded strategy compares two backends.</summary>
internal interface ILoadComparer
{
    /// <summary>Whether <paramref name="candidate"/> is strictly less loaded than <paramref name="best"/>.</summary>
    static abstract bool LessLoaded(BackendSnapshot candidate, BackendSnapshot best);

    /// <summary>The least loaded available backend of a part of the list, as its tree keeps it; null when none is available.</summary>
    static abstract BackendSnapshot? LeastIn(BackendList backends);
}

/// <summary>
/// The pick behind the least-loaded strategies: the least loaded available backend, with ties rotating
/// among the available backends (as HAProxy's leastconn rotates among equals). Each decision starts the
/// search one available backend further on, so equally loaded backends take turns instead of the first one
/// always winning. Counting only available backends matters: counting a dead one too would hand its turn
/// to the backend after it, which then wins every tie (twice the connections of the others with one of
/// three down).
/// </summary>
/// <remarks>
/// The same answer as scanning every backend from the start, wrapping around, for the first one no other is
/// less loaded than; found in O(log n) from the backend tree, which keeps the least loaded of every subtree.
/// </remarks>
internal static class LeastLoaded
{
    public static int Pick<TComparer>(in BalancingContext context)
        where TComparer : ILoadComparer
    {
        var backends = context.List;
        if (TComparer.LeastIn(backends) is not { } least)
        {
            return BalancingContext.None;
        }

        // The search starts at the (decision mod available)-th available backend and wraps around.
        var start = backends.NthAvailable((int)(context.DecisionNumber % backends.AvailableCount));
        var found = backends.FirstAsLeastFrom<TComparer>(start, least);
        return found >= 0 ? found : backends.FirstAsLeastFrom<TComparer>(0, least);
    }
}
