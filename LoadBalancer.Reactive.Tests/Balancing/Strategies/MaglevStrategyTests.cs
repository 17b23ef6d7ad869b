using System.Net;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;
using static LoadBalancer.Reactive.Tests.Balancing.Strategies.SourceIpHashStrategyTests;

namespace LoadBalancer.Reactive.Tests.Balancing.Strategies;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class MaglevStrategyTests
{
    private const int Keys = 100_000;

    [Theory]
    [InlineData(3)]
    [InlineData(10)]
    [InlineData(100)]
    public void Build_EqualWeights_EachBackendOwnsAnEvenShareOfTheTable(int backends)
    {
        var table = MaglevStrategy.Build(State(backends).Backends);

        var even = (double)MaglevStrategy.TableSize / backends;
        Assert.Equal(MaglevStrategy.TableSize, table.Length);
        Assert.All(
            table.GroupBy(index => index),
            owned => Assert.InRange(owned.Count(), even * 0.98, even * 1.02));
    }

    [Fact]
    public void Build_Weights123_SharesFollowTheWeights()
    {
        var table = MaglevStrategy.Build(State(1, 2, 3).Backends);

        for (var index = 0; index < 3; index++)
        {
            var share = table.Count(owner => owner == index) / (double)table.Length;
            var expected = (index + 1) / 6.0;
            Assert.InRange(share, expected * 0.98, expected * 1.02);
        }
    }

    [Fact]
    public void Pick_EqualWeights_SampledKeysSpreadWithinTwoPercentOfEven()
    {
        var owners = Owners(State(5).Backends, version: 0);

        Assert.All(owners.GroupBy(owner => owner), keys => Assert.InRange(keys.Count(), 20_000 * 0.98, 20_000 * 1.02));
    }

    [Fact]
    public void Pick_OneOfTenBackendsLeaves_OnlyAboutItsKeysMove()
    {
        var ten = State(10).Backends;
        var nine = ten.RemoveAt(3);

        var before = Owners(ten, version: 0);
        var after = Owners(nine, version: 1);

        var moved = before.Zip(after).Count(pair => pair.First != pair.Second);
        var owned = before.Count(owner => owner == ten[3].Address);
        Assert.True(moved <= Keys * ((1.0 / 10) + 0.01), $"{moved} of {Keys} keys moved; the leaving backend owned {owned}");
        Assert.DoesNotContain(ten[3].Address, after);
    }

    [Fact]
    public void Pick_BackendUnavailable_OnlyItsKeysMove_AndComeBackWithIt()
    {
        var all = State(10).Backends;
        var oneDown = all.SetItem(4, all[4] with { Weight = 0 });
        var strategy = new MaglevStrategy();

        var before = Owners(all, version: 0, strategy);
        var during = Owners(oneDown, version: 0, strategy);
        var after = Owners(all, version: 0, strategy);

        Assert.All(before.Zip(during), pair =>
        {
            if (pair.First != all[4].Address)
            {
                Assert.Equal(pair.First, pair.Second);
            }
        });
        Assert.DoesNotContain(all[4].Address, during);
        Assert.Equal(before, after);
    }

    [Fact]
    public void Pick_SameClient_SameBackendOnEveryInstance()
    {
        var client = new IPEndPoint(IPAddress.Parse("203.0.113.7"), 5555);

        Assert.Equal(
            new MaglevStrategy().Pick(Context(State(8).Backends, client: client)),
            new MaglevStrategy().Pick(Context(WithActive(3, 3, 3, 3, 0, 0, 0, 0), client: client)));
    }

    [Fact]
    public void Pick_NothingAvailable_ReturnsNone()
    {
        Assert.Equal(BalancingContext.None, new MaglevStrategy().Pick(Context(State(0, 0).Backends)));
        Assert.Equal(BalancingContext.None, new MaglevStrategy().Pick(Context([])));
    }

    // The backend address each of the sampled keys lands on, for the same 100,000 client addresses.
    private static List<string> Owners(BackendList backends, long version, MaglevStrategy? strategy = null)
    {
        strategy ??= new MaglevStrategy();
        var random = new Random(2016);
        var owners = new List<string>(Keys);
        for (var i = 0; i < Keys; i++)
        {
            var index = strategy.Pick(Context(backends, i, RandomClient(random), version));
            owners.Add(backends[index].Address);
        }

        return owners;
    }
}
