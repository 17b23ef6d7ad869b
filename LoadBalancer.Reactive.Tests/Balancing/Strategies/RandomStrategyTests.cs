using LoadBalancer.Reactive.Balancing.Strategies;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing.Strategies;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class RandomStrategyTests
{
    private readonly RandomStrategy _strategy = new();

    [Fact]
    public void Pick_EqualWeights_SpreadEvenly()
    {
        var counts = Count(State(1, 1, 1), picks: 30_000, seed: 7);

        // Expected 10,000 each; a standard deviation is about 82, so ±300 is over three.
        Assert.All(counts, count => Assert.InRange(count, 9_700, 10_300));
    }

    [Fact]
    public void Pick_Weights31_FollowTheWeights()
    {
        var counts = Count(State(3, 1), picks: 40_000, seed: 7);

        Assert.InRange(counts[0], 29_600, 30_400);
    }

    [Fact]
    public void Pick_SameSeed_SameSequence()
    {
        var backends = State(1, 1, 1, 1).Backends;
        var first = new Random(42);
        var second = new Random(42);

        var a = Enumerable.Range(0, 100).Select(d => _strategy.Pick(Context(backends, d, random: first))).ToList();
        var b = Enumerable.Range(0, 100).Select(d => _strategy.Pick(Context(backends, d, random: second))).ToList();

        Assert.Equal(a, b);
    }

    [Fact]
    public void Pick_NeverTakesAnUnavailableBackend()
    {
        var counts = Count(State(1, 0, 1), picks: 1_000, seed: 1);

        Assert.Equal(0, counts[1]);
        Assert.Equal(BalancingContext.None, _strategy.Pick(Context(State(0, 0).Backends)));
    }

    private int[] Count(Reactive.Balancing.BalancerState state, int picks, int seed)
    {
        var random = new Random(seed);
        var counts = new int[state.Backends.Length];
        for (var d = 0; d < picks; d++)
        {
            counts[_strategy.Pick(Context(state.Backends, d, random: random))]++;
        }

        return counts;
    }
}
