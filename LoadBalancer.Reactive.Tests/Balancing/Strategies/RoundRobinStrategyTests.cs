using LoadBalancer.Reactive.Balancing.Strategies;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing.Strategies;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class RoundRobinStrategyTests
{
    private readonly RoundRobinStrategy _strategy = new();

    [Fact]
    public void Pick_TakesEachBackendInTurnWhateverTheLoad()
    {
        var backends = WithActive(9, 0, 5);

        Assert.Equal("abcabcabc", Letters(Enumerable.Range(0, 9).Select(d => _strategy.Pick(Context(backends, d)))));
    }

    [Fact]
    public void Pick_UnavailableBackend_IsSkippedWithoutDoublingItsNeighbour()
    {
        var backends = State(1, 0, 1).Backends;

        Assert.Equal("acacac", Letters(Enumerable.Range(0, 6).Select(d => _strategy.Pick(Context(backends, d)))));
    }

    [Fact]
    public void Pick_NothingAvailable_ReturnsNone()
    {
        Assert.Equal(BalancingContext.None, _strategy.Pick(Context(State(0, 0).Backends)));
        Assert.Equal(BalancingContext.None, _strategy.Pick(Context([])));
    }

    internal static string Letters(IEnumerable<int> picks) => string.Concat(picks.Select(p => p < 0 ? '-' : (char)('a' + p)));
}
