namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Power of two choices: picks two different available backends at random (weighted) and takes the one
/// with fewer active connections (the first on a tie). It never takes the busier of the two, and unlike
/// least connections it does not send a burst of new connections all to the one idlest backend.
/// </summary>
internal sealed class PowerOfTwoChoicesStrategy : ILoadBalancingStrategy
{
    public int Pick(in BalancingContext context)
    {
        var first = RandomStrategy.PickWeighted(context);
        if (first < 0)
        {
            return BalancingContext.None;
        }

        var second = RandomStrategy.PickWeighted(context, excluded: first);
        if (second < 0)
        {
            return first;
        }

        var backends = context.List;
        return backends[second].ActiveConnections < backends[first].ActiveConnections ? second : first;
    }
}
