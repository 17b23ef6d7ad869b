using LoadBalancer.Reactive.Balancing.Strategies;

namespace StrategyTesting;

/// <summary>
/// A strategy of your own: fill the first available backend up to <c>limit</c> connections before
/// using the next (HAProxy calls it "first"), so spare servers can be scaled down when traffic is low.
/// When every backend is full, it falls back to the least loaded one rather than reject.
/// </summary>
public sealed class FillFirstStrategy(int limit) : ILoadBalancingStrategy
{
    public int Pick(in BalancingContext context)
    {
        var leastLoaded = BalancingContext.None;
        for (var index = 0; index < context.Backends.Length; index++)
        {
            var backend = context.Backends[index];
            if (!backend.Available)
            {
                continue;
            }

            if (backend.ActiveConnections < limit)
            {
                return index;
            }

            if (leastLoaded < 0 || backend.ActiveConnections < context.Backends[leastLoaded].ActiveConnections)
            {
                leastLoaded = index;
            }
        }

        return leastLoaded;
    }
}
