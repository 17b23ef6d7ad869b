using System.Net.Sockets;
using System.Reactive.Subjects;
using System.Security.Cryptography;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests;

/// <summary>Changing a running balancer's backends over loopback, without dropping a connection.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public class MembershipTests
{
    [Fact]
    public async Task DrainBackend_With20OpenRelays_TakesNothingNewAndAll20CompleteByteExact()
    {
        await using var a = LoopbackServer.Echo();
        await using var b = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(a.Address), new(b.Address)],
            CustomStrategy = new FirstAvailable(),
            HealthCheck = Balancers.NoHealthChecks,
        });
        using var events = new EventRecorder(balancer.Events);
        var onA = new List<Socket>();
        for (var i = 0; i < 20; i++)
        {
            onA.Add(await Loopback.ConnectAsync(balancer.ListenEndPoints[0]));
        }

        await events.WaitForAsync<BackendConnected>(20);
        balancer.DrainBackend(a.Address);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.DrainStarted);

        // New connections go to b while a's twenty carry on.
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("x", System.Text.Encoding.ASCII.GetString(await EchoAndCloseAsync(await Loopback.ConnectAsync(balancer.ListenEndPoints[0]), "x"u8.ToArray())));
        }

        var payloads = onA.Select((_, i) => Loopback.RandomBytes(64 * 1024, seed: 100 + i)).ToList();
        var echoes = await Task.WhenAll(onA.Select((client, i) => EchoAndCloseAsync(client, payloads[i])));

        Assert.All(echoes.Zip(payloads), pair => Assert.Equal(SHA256.HashData(pair.Second), SHA256.HashData(pair.First)));
        var drained = Assert.Single(await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Drained));
        Assert.Equal(a.Address, drained.Backend);
        Assert.Equal(20, events.OfType<ConnectionAssigned>().Count(e => e.Backend == a.Address));
        Assert.Equal(10, events.OfType<ConnectionAssigned>().Count(e => e.Backend == b.Address));
        Assert.True(events.OfType<ConnectionCompleted>().Where(e => e.Backend == a.Address).All(e => e.Timestamp <= drained.Timestamp));
    }

    [Fact]
    public async Task DisableBackend_KeepsItsOpenRelayByteExact_SendsNewOnesElsewhere_UntilEnabled()
    {
        await using var a = LoopbackServer.Echo();
        await using var b = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(a.Address), new(b.Address)],
            CustomStrategy = new FirstAvailable(),
            HealthCheck = Balancers.NoHealthChecks,
        });
        using var events = new EventRecorder(balancer.Events);
        var onA = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await events.WaitForAsync<BackendConnected>(1);

        balancer.DisableBackend(a.Address);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Disabled);
        await EchoAndCloseAsync(await Loopback.ConnectAsync(balancer.ListenEndPoints[0]), "x"u8.ToArray());
        var payload = Loopback.RandomBytes(256 * 1024, seed: 7);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(await EchoAndCloseAsync(onA, payload)));
        await events.WaitForAsync<ConnectionCompleted>(2);
        Assert.True(Assert.Single(balancer.Snapshot.Backends, s => s.Address == a.Address).Disabled);

        balancer.EnableBackend(a.Address);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Enabled);
        await EchoAndCloseAsync(await Loopback.ConnectAsync(balancer.ListenEndPoints[0]), "y"u8.ToArray());

        Assert.Equal([a.Address, b.Address, a.Address], events.OfType<ConnectionAssigned>().Select(e => e.Backend));
        Assert.Empty(events.OfType<BackendMembershipChanged>().Where(e => e.Kind is MembershipChangeKind.Drained or MembershipChangeKind.Left));
        Assert.Throws<ArgumentException>(() => balancer.DisableBackend("10.9.9.9:9"));
        Assert.Throws<ArgumentException>(() => balancer.EnableBackend("10.9.9.9:9"));
    }

    [Fact]
    public async Task SetWeight_UnderLoad_ShiftsNewConnectionsToTheNewProportion()
    {
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(a.Address), new(b.Address)],
            Strategy = LoadBalancingStrategies.WeightedRoundRobin,
            HealthCheck = Balancers.NoHealthChecks,
        });
        using var events = new EventRecorder(balancer.Events);

        var before = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            before.Add(await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        }

        balancer.SetWeight(a.Address, 3);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Reweighted);
        var after = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            after.Add(await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        }

        Assert.Equal(50, before.Count(answer => answer == a.Address));
        Assert.Equal(75, after.Count(answer => answer == a.Address));
    }

    [Fact]
    public async Task UpdateBackends_AddsNewRemovesMissingAndFollowBackendsSkipsAnInvalidSet()
    {
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        await using var c = LoopbackServer.Named();
        await using var balancer = await Balancers.StartAsync(a, b);
        using var events = new EventRecorder(balancer.Events);
        var sets = new Subject<IReadOnlyList<BackendOptions>>();
        using var following = balancer.FollowBackends(sets);

        sets.OnNext([new(a.Address), new(c.Address)]);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Left);
        sets.OnNext([new(a.Address), new("not-an-address")]);
        var rejected = Assert.Single(await events.WaitForAsync<MembershipRejected>());

        Assert.Equal([a.Address, c.Address], balancer.Snapshot.Backends.Select(backend => backend.Address));
        Assert.Equal("Backends[1].Address 'not-an-address' is not HOST:PORT.", Assert.Single(rejected.Errors));
        var answers = new HashSet<string>();
        for (var i = 0; i < 4; i++)
        {
            answers.Add(await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        }

        Assert.Equal(new[] { a.Address, c.Address }.Order(), answers.Order());
    }

    [Fact]
    public async Task RemoveBackendWithCloseAfter_CutsWhatIsStillOpenAtTheDeadline_InVirtualTime()
    {
        var scheduler = new TestScheduler();
        await using var a = LoopbackServer.Echo();
        await using var b = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(
            new LoadBalancerOptions
            {
                Backends = [new(a.Address), new(b.Address)],
                CustomStrategy = new FirstAvailable(),
                HealthCheck = Balancers.NoHealthChecks,
            },
            scheduler);
        using var events = new EventRecorder(balancer.Events);
        var clients = new List<Socket>();
        for (var i = 0; i < 3; i++)
        {
            clients.Add(await Loopback.ConnectAsync(balancer.ListenEndPoints[0]));
        }

        await events.WaitForAsync<BackendConnected>(3);
        balancer.RemoveBackend(a.Address, closeAfter: TimeSpan.FromSeconds(10));
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.DrainStarted);

        scheduler.AdvanceBy(TimeSpan.FromSeconds(10).Ticks - 1);
        await Loopback.SendAllAsync(clients[0], "still open"u8.ToArray());
        var buffer = new byte[10];
        Assert.Equal(10, await clients[0].ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Loopback.Timeout));

        scheduler.AdvanceBy(1);
        foreach (var client in clients)
        {
            await Assert.ThrowsAsync<SocketException>(() => Loopback.ReadToEndAsync(client));
            client.Dispose();
        }

        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Left);
        Assert.Equal([b.Address], balancer.Snapshot.Backends.Select(backend => backend.Address));
        Assert.All(await events.WaitForAsync<ConnectionCompleted>(3), c => Assert.Equal(CompletionReason.Aborted, c.Reason));
    }

    [Fact]
    public async Task MembershipCalls_WithBadInput_SayWhatIsWrong()
    {
        await using var a = LoopbackServer.Named();
        await using var balancer = await Balancers.StartAsync(a);

        Assert.Equal(
            "Backend[0].Address '10.0.0.1:0' has port 0, outside 1-65535.",
            Assert.Single(Assert.Throws<LoadBalancerOptionsException>(() => balancer.AddBackend(new BackendOptions("10.0.0.1:0"))).Errors));
        Assert.Equal(
            $"Backend '{a.Address}' is already a member.",
            Assert.Single(Assert.Throws<LoadBalancerOptionsException>(() => balancer.AddBackend(new BackendOptions(a.Address))).Errors));
        Assert.StartsWith("No backend '10.9.9.9:9' is a member.", Assert.Throws<ArgumentException>(() => balancer.RemoveBackend("10.9.9.9:9")).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => balancer.SetWeight(a.Address, -1));
    }

    private static async Task<byte[]> EchoAndCloseAsync(Socket client, byte[] payload)
    {
        using (client)
        {
            await Loopback.SendAllAsync(client, payload);
            client.Shutdown(SocketShutdown.Send);
            return await Loopback.ReadToEndAsync(client);
        }
    }

    private sealed class FirstAvailable : ILoadBalancingStrategy
    {
        public int Pick(in BalancingContext context)
        {
            for (var i = 0; i < context.Backends.Length; i++)
            {
                if (context.Backends[i].Available)
                {
                    return i;
                }
            }

            return BalancingContext.None;
        }
    }
}
