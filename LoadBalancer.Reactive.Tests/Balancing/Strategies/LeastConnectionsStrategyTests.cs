using LoadBalancer.Reactive.Balancing.Strategies;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing.Strategies;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class LeastConnectionsStrategyTests
{
    private readonly LeastConnectionsStrategy _strategy = new();

    [Fact]
    public void Pick_NoBackends_ReturnsNone() =>
        Assert.Equal(-1, _strategy.Pick(Context([], 0)));

    [Fact]
    public void Pick_OneBackend_ReturnsIt() =>
        Assert.Equal(0, _strategy.Pick(Context(State(1).Backends, 7)));

    [Fact]
    public void Pick_TakesTheFewestActive()
    {
        var backends = State(3).Backends;
        backends = backends.SetItem(0, backends[0] with { ActiveConnections = 4 })
            .SetItem(1, backends[1] with { ActiveConnections = 2 })
            .SetItem(2, backends[2] with { ActiveConnections = 3 });

        for (var decision = 0; decision < 6; decision++)
        {
            Assert.Equal(1, _strategy.Pick(Context(backends, decision)));
        }
    }

    [Fact]
    public void Pick_Ties_RotateWithTheDecisionNumber()
    {
        var backends = State(3).Backends;

        var picks = Enumerable.Range(0, 6).Select(decision => _strategy.Pick(Context(backends, decision)));

        Assert.Equal([0, 1, 2, 0, 1, 2], picks);
    }

    [Fact]
    public void Pick_SkipsUnavailableBackends()
    {
        var backends = State(1, 0, 1).Backends;

        var picks = Enumerable.Range(0, 6).Select(decision => _strategy.Pick(Context(backends, decision)));

        Assert.DoesNotContain(1, picks);
    }

    [Fact]
    public void Pick_AllUnavailable_ReturnsNone() =>
        Assert.Equal(-1, _strategy.Pick(Context(State(0, 0, 0).Backends)));
}
