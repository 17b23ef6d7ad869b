using System.Net;
using System.Net.Sockets;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Discovery;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Discovery;

[Trait(TestCategories.Name, TestCategories.Loopback)]
public class DnsDiscoveryTests
{
    private static readonly TimeSpan s_every = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Watch_ResolvesEveryInterval_AndEmitsOnlyWhenTheSetChanges()
    {
        var scheduler = new TestScheduler();
        var answers = new Queue<string[]>([["10.1.0.1"], ["10.1.0.2", "10.1.0.1"], ["10.1.0.2"], ["10.1.0.2"]]);
        var seen = new List<(double Second, string[] Backends)>();
        using var _ = DnsDiscovery.Watch(
                [new BackendOptions("svc.test:80", weight: 2), new BackendOptions("10.9.9.9:80")],
                s_every,
                scheduler,
                (host, _) => Task.FromResult(answers.Dequeue().Select(IPAddress.Parse).ToArray()))
            .Subscribe(set => seen.Add((TimeSpan.FromTicks(scheduler.Clock).TotalSeconds, [.. set.Select(b => $"{b.Address}@{b.Weight}")])));

        await Task.Run(() => scheduler.AdvanceTo(TimeSpan.FromSeconds(35).Ticks)).WaitAsync(Loopback.Timeout);

        Assert.Equal(
            [
                (0.0, new[] { "10.1.0.1:80@2", "10.9.9.9:80@1" }),
                (10.0, new[] { "10.1.0.1:80@2", "10.1.0.2:80@2", "10.9.9.9:80@1" }),
                (20.0, new[] { "10.1.0.2:80@2", "10.9.9.9:80@1" }),
            ],
            seen.Select(s => (s.Second, s.Backends)).ToList(),
            new SetComparer());
    }

    [Fact]
    public async Task Watch_AFailedLookupKeepsTheAddressesItHad()
    {
        var scheduler = new TestScheduler();
        var calls = 0;
        var seen = new List<IReadOnlyList<BackendOptions>>();
        using var _ = DnsDiscovery.Watch(
                [new BackendOptions("svc.test:80")], s_every, scheduler,
                (host, _) => ++calls == 1
                    ? Task.FromResult(new[] { IPAddress.Parse("10.1.0.1") })
                    : Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound)))
            .Subscribe(seen.Add);

        await Task.Run(() => scheduler.AdvanceTo(TimeSpan.FromSeconds(25).Ticks)).WaitAsync(Loopback.Timeout);

        Assert.Equal(3, calls);
        Assert.Equal("10.1.0.1:80", Assert.Single(Assert.Single(seen)).Address);
    }

    [Fact]
    public async Task FollowingDns_ReplacesANameWithItsAddresses_AndServesThroughThem()
    {
        await using var backend = LoopbackServer.Named();
        var name = $"svc.test:{backend.EndPoint.Port}";
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(name)],
            HealthCheck = Balancers.NoHealthChecks,
        });
        using var events = new EventRecorder(balancer.Events);

        using var following = balancer.FollowBackends(DnsDiscovery.Watch(
            [new BackendOptions(name)], TimeSpan.FromMinutes(1), resolve: (_, _) => Task.FromResult(new[] { IPAddress.Loopback })));

        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Backend == name && e.Kind == MembershipChangeKind.Left);
        Assert.Equal([backend.Address], balancer.Snapshot.Backends.Select(b => b.Address));
        Assert.Equal(backend.Address, await Loopback.AskAsync(balancer.ListenEndPoints[0]));
    }

    [Fact]
    public void Watch_BadArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>(() => DnsDiscovery.Watch(null!, s_every));
        Assert.Throws<ArgumentOutOfRangeException>(() => DnsDiscovery.Watch([], TimeSpan.Zero));
    }

    private sealed class SetComparer : IEqualityComparer<(double, string[])>
    {
        public bool Equals((double, string[]) x, (double, string[]) y) => x.Item1 == y.Item1 && x.Item2.SequenceEqual(y.Item2);

        public int GetHashCode((double, string[]) obj) => obj.Item1.GetHashCode();
    }
}
