using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing.Strategies;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class WeightedLeastConnectionsStrategyTests
{
    private readonly WeightedLeastConnectionsStrategy _strategy = new();

    [Fact]
    public void Pick_ComparesActiveConnectionsPerUnitOfWeight()
    {
        // a: 2 active / weight 3 = 0.67; b: 1 active / weight 1 = 1. Plain least connections would take b.
        var backends = State(3, 1).Backends;
        backends = backends.SetItem(0, backends[0] with { ActiveConnections = 2 }).SetItem(1, backends[1] with { ActiveConnections = 1 });

        Assert.Equal(0, _strategy.Pick(Context(backends)));
    }

    [Fact]
    public void Fold_HeldConnections_SplitInProportionToWeight()
    {
        var steps = Enumerable.Range(1, 30).Aggregate(
            State(2, 1), (state, id) => BalancerReducer.Reduce(state, Arrive(id), Policy(_strategy)).State);

        Assert.Equal([20, 10], Active(steps));
    }

    [Fact]
    public void Pick_Ties_Rotate()
    {
        var backends = State(2, 2, 2).Backends;

        Assert.Equal([0, 1, 2, 0], Enumerable.Range(0, 4).Select(decision => _strategy.Pick(Context(backends, decision))));
    }

    [Fact]
    public void Pick_SkipsUnavailableAndReturnsNoneWhenNothingIs()
    {
        Assert.Equal(1, _strategy.Pick(Context(State(0, 1).Backends)));
        Assert.Equal(BalancingContext.None, _strategy.Pick(Context(State(0, 0).Backends)));
        Assert.Equal(BalancingContext.None, _strategy.Pick(Context([])));
    }
}
