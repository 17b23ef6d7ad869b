using System.Net;
using LoadBalancer.Reactive.Balancing.Strategies;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing.Strategies;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class SourceIpHashStrategyTests
{
    private readonly SourceIpHashStrategy _strategy = new();

    [Fact]
    public void Pick_SameClientAddress_SameBackendWhateverThePortOrLoad()
    {
        var first = _strategy.Pick(Context(State(4).Backends, client: new IPEndPoint(IPAddress.Parse("10.1.2.3"), 40000)));

        for (var port = 40001; port < 40100; port++)
        {
            var loaded = WithActive(port % 7, port % 3, port % 5, port % 2);
            Assert.Equal(first, _strategy.Pick(Context(loaded, port, new IPEndPoint(IPAddress.Parse("10.1.2.3"), port))));
        }
    }

    [Fact]
    public void Pick_IsTheSameOnEveryInstanceAndRun()
    {
        var client = new IPEndPoint(IPAddress.Parse("192.168.7.9"), 1234);

        Assert.Equal(
            new SourceIpHashStrategy().Pick(Context(State(5).Backends, client: client)),
            new SourceIpHashStrategy().Pick(Context(State(5).Backends, client: client)));
    }

    [Fact]
    public void Pick_IPv4MappedIPv6_IsTheSameClient()
    {
        var v4 = new IPEndPoint(IPAddress.Parse("172.16.0.1"), 1);
        var mapped = new IPEndPoint(IPAddress.Parse("172.16.0.1").MapToIPv6(), 2);

        Assert.Equal(_strategy.Pick(Context(State(7).Backends, client: v4)), _strategy.Pick(Context(State(7).Backends, client: mapped)));
    }

    [Fact]
    public void Pick_ManyClients_SpreadOverEveryBackend()
    {
        var random = new Random(5);
        var counts = new int[4];
        for (var i = 0; i < 10_000; i++)
        {
            counts[_strategy.Pick(Context(State(4).Backends, client: RandomClient(random)))]++;
        }

        Assert.All(counts, count => Assert.InRange(count, 2_300, 2_700));
    }

    [Fact]
    public void Pick_SkipsUnavailable_ReturnsNoneWhenNothingIs()
    {
        var client = new IPEndPoint(IPAddress.Loopback, 1);

        Assert.Equal(1, _strategy.Pick(Context(State(0, 1, 0).Backends, client: client)));
        Assert.Equal(BalancingContext.None, _strategy.Pick(Context(State(0, 0).Backends, client: client)));
    }

    internal static IPEndPoint RandomClient(Random random) =>
        new(new IPAddress(BitConverter.GetBytes(random.Next())), random.Next(1024, 65535));
}
