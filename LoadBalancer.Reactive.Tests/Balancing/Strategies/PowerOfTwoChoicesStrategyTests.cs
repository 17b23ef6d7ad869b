using LoadBalancer.Reactive.Balancing.Strategies;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing.Strategies;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class PowerOfTwoChoicesStrategyTests
{
    private readonly PowerOfTwoChoicesStrategy _strategy = new();

    [Fact]
    public void Pick_TwoBackends_AlwaysTheLessLoaded()
    {
        // Both are always drawn, because the two choices are distinct; drawing one backend twice
        // would sometimes hand the busier one back.
        var backends = WithActive(0, 5);
        var random = new Random(3);

        var picks = Enumerable.Range(0, 1_000).Select(d => _strategy.Pick(Context(backends, d, random: random)));

        Assert.All(picks, pick => Assert.Equal(0, pick));
    }

    [Fact]
    public void Pick_ThreeBackends_NeverTheBusiestAndTheIdlestTwiceAsOften()
    {
        // With loads 0, 5, 10 the pair holds the idlest 2/3 of the time (it wins then), and
        // otherwise it is {5, 10} and the middle one wins. The busiest never does.
        var backends = WithActive(0, 5, 10);
        var random = new Random(11);
        var counts = new int[3];

        for (var d = 0; d < 30_000; d++)
        {
            counts[_strategy.Pick(Context(backends, d, random: random))]++;
        }

        Assert.InRange(counts[0], 19_700, 20_300);
        Assert.InRange(counts[1], 9_700, 10_300);
        Assert.Equal(0, counts[2]);
    }

    [Fact]
    public void Pick_OneAvailable_ReturnsIt_NoneAvailable_ReturnsNone()
    {
        Assert.Equal(1, _strategy.Pick(Context(State(0, 1, 0).Backends)));
        Assert.Equal(BalancingContext.None, _strategy.Pick(Context(State(0, 0).Backends)));
        Assert.Equal(BalancingContext.None, _strategy.Pick(Context([])));
    }
}
