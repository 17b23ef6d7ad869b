namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Picks an available backend at random, in proportion to its weight (uniformly when the weights are
/// equal; scaled by slow start), using the fold's seeded <see cref="BalancingContext.Random"/>.
/// </summary>
internal sealed class RandomStrategy : ILoadBalancingStrategy
{
    public int Pick(in BalancingContext context) => PickWeighted(context);

    /// <summary>A weighted random pick among the available backends, or <see cref="BalancingContext.None"/>.</summary>
    internal static int PickWeighted(in BalancingContext context, int excluded = BalancingContext.None)
    {
        var backends = context.Backends;
        long total = 0;
        for (var index = 0; index < backends.Length; index++)
        {
            if (index != excluded && backends[index].Available)
            {
                total += backends[index].EffectiveWeight;
            }
        }

        if (total == 0)
        {
            return BalancingContext.None;
        }

        var ticket = context.Random.NextInt64(total);
        for (var index = 0; index < backends.Length; index++)
        {
            if (index != excluded && backends[index].Available)
            {
                ticket -= backends[index].EffectiveWeight;
                if (ticket < 0)
                {
                    return index;
                }
            }
        }

        return BalancingContext.None;
    }
}
