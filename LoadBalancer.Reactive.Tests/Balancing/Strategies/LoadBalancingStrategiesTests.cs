using LoadBalancer.Reactive.Balancing.Strategies;

namespace LoadBalancer.Reactive.Tests.Balancing.Strategies;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class LoadBalancingStrategiesTests
{
    [Theory]
    [InlineData("least-connections", typeof(LeastConnectionsStrategy))]
    [InlineData("weighted-least-connections", typeof(WeightedLeastConnectionsStrategy))]
    [InlineData("round-robin", typeof(RoundRobinStrategy))]
    [InlineData("weighted-round-robin", typeof(WeightedRoundRobinStrategy))]
    [InlineData("random", typeof(RandomStrategy))]
    [InlineData("power-of-two-choices", typeof(PowerOfTwoChoicesStrategy))]
    [InlineData("source-ip-hash", typeof(SourceIpHashStrategy))]
    [InlineData("maglev", typeof(MaglevStrategy))]
    public void Create_EachName_MakesItsStrategy(string name, Type expected)
    {
        Assert.IsType(expected, LoadBalancingStrategies.Create(name));
        Assert.Contains(name, LoadBalancingStrategies.All);
    }

    [Fact]
    public void Create_UnknownName_ListsTheValidNames()
    {
        var exception = Assert.Throws<ArgumentException>(() => LoadBalancingStrategies.Create("fastest"));

        Assert.StartsWith(
            "Strategy 'fastest' is unknown; valid strategies are: least-connections, weighted-least-connections, round-robin, "
            + "weighted-round-robin, random, power-of-two-choices, source-ip-hash, maglev.",
            exception.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Create_EveryCall_IsAFreshInstance() =>
        Assert.NotSame(LoadBalancingStrategies.Create("round-robin"), LoadBalancingStrategies.Create("round-robin"));
}
