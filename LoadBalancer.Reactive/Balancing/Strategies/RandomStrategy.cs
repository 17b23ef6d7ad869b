namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Picks an available backend at random, in proportion to its weight (uniformly when the weights are
/// equal; scaled by slow start), using the fold's seeded <see cref="BalancingContext.Random"/>.
/// </summary>
internal sealed class RandomStrategy : ILoadBalancingStrategy
{
    public int Pick(in BalancingContext context) => PickWeighted(context);

    /// <summary>A weighted random pick among the available backends, or <see cref="BalancingContext.None"/>.</summary>
    /// <remarks>
    /// One draw in [0, total weight), then the backend where the running total of weights in list order first
    /// exceeds it: found by the weight prefix sums the backend tree keeps, O(log n). The excluded backend's
    /// weight is taken out by shifting draws at or past its place over it.
    /// </remarks>
    internal static int PickWeighted(in BalancingContext context, int excluded = BalancingContext.None)
    {
        var backends = context.List;
        var total = backends.AvailableWeight;
        var skipped = excluded >= 0 && backends[excluded] is { Available: true } left ? left.EffectiveWeight : 0;
        total -= skipped;
        if (total <= 0)
        {
            return BalancingContext.None;
        }

        var ticket = context.Random.NextInt64(total);
        if (skipped > 0 && ticket >= backends.AvailableWeightBefore(excluded))
        {
            ticket += skipped;
        }

        return backends.FindByWeight(ticket);
    }
}
