using LoadBalancer.Reactive.Balancing.Strategies;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;
using static LoadBalancer.Reactive.Tests.Balancing.Strategies.RoundRobinStrategyTests;

namespace LoadBalancer.Reactive.Tests.Balancing.Strategies;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class WeightedRoundRobinStrategyTests
{
    private readonly WeightedRoundRobinStrategy _strategy = new();

    [Fact]
    public void Pick_Weights511_GiveNginxsSmoothSequence()
    {
        var backends = State(5, 1, 1).Backends;

        var picks = Letters(Enumerable.Range(0, 14).Select(d => _strategy.Pick(Context(backends, d))));

        Assert.Equal("aabacaa" + "aabacaa", picks);
    }

    [Fact]
    public void Pick_Weights321_AreExactPerCycleAndInterleaved()
    {
        var backends = State(3, 2, 1).Backends;

        var picks = Letters(Enumerable.Range(0, 600).Select(d => _strategy.Pick(Context(backends, d))));

        Assert.Equal([300, 200, 100], "abc".Select(letter => picks.Count(p => p == letter)));
        Assert.DoesNotContain("aaa", picks, StringComparison.Ordinal);
    }

    [Fact]
    public void Pick_UnavailableBackend_IsSkippedAndTheRestKeepTheirProportion()
    {
        var backends = State(2, 0, 1).Backends;

        var picks = Letters(Enumerable.Range(0, 6).Select(d => _strategy.Pick(Context(backends, d))));

        Assert.Equal("acaaca", picks);
    }

    [Fact]
    public void Pick_MembershipChange_StartsTheScoresAfresh()
    {
        Assert.Equal("aab", Letters(Enumerable.Range(0, 3).Select(d => _strategy.Pick(Context(State(5, 1, 1).Backends, d)))));

        var picks = Letters(Enumerable.Range(0, 4).Select(d => _strategy.Pick(Context(State(1, 1).Backends, d, version: 1))));

        Assert.Equal("abab", picks);
    }

    [Fact]
    public void Pick_NothingAvailable_ReturnsNone() =>
        Assert.Equal(BalancingContext.None, _strategy.Pick(Context(State(0, 0).Backends)));
}
