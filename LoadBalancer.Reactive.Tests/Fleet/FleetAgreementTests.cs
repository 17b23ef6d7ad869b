using System.Collections.Immutable;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;
using static LoadBalancer.Reactive.Tests.Balancing.Strategies.SourceIpHashStrategyTests;

namespace LoadBalancer.Reactive.Tests.Fleet;

/// <summary>
/// Instances of a fleet hold the same members, but not in the same order: one restarted and read them in key order,
/// another saw a backend leave and come back at the end. The fleet-consistent strategies must not care.
/// </summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class FleetAgreementTests
{
    [Theory]
    [InlineData(LoadBalancingStrategies.Maglev)]
    [InlineData(LoadBalancingStrategies.SourceIpHash)]
    public void Pick_SameMembersInAnotherOrder_SameBackendForEveryClient(string name)
    {
        var members = State(1, 2, 1, 3, 1).Backends;
        ImmutableArray<BackendSnapshot> shuffled = [members[3], members[0], members[4], members[2], members[1]];

        Assert.Equal(Owners(name, members.ToImmutableArray()), Owners(name, shuffled));
    }

    [Theory]
    [InlineData(LoadBalancingStrategies.Maglev)]
    [InlineData(LoadBalancingStrategies.SourceIpHash)]
    public void Pick_SameMembersOneDrainingInAnotherOrder_SameBackendForEveryClient(string name)
    {
        var members = State(6).Backends;
        members = members.SetItem(2, members[2] with { Draining = true });
        ImmutableArray<BackendSnapshot> shuffled = [.. members.Reverse()];

        var owners = Owners(name, members.ToImmutableArray());
        Assert.Equal(owners, Owners(name, shuffled));
        Assert.DoesNotContain(members[2].Address, owners);
    }

    // The address each of 10,000 clients lands on, by a fresh instance of the strategy (as a fresh balancer would).
    private static List<string> Owners(string name, ImmutableArray<BackendSnapshot> backends)
    {
        var strategy = LoadBalancingStrategies.Create(name);
        var random = new Random(7);
        return [.. Enumerable.Range(0, 10_000).Select(i => backends[strategy.Pick(Context(backends, i, RandomClient(random), version: 1))].Address)];
    }
}
