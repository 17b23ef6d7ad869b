using System.Net;
using System.Net.Sockets;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests;

/// <summary>
/// Access rules and per-client limits over real sockets, with clients on different 127.x source
/// addresses (all of 127.0.0.0/8 is loopback on Linux).
/// </summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class ClientAccessLoopbackTests
{
    private static readonly IPAddress s_second = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress s_third = IPAddress.Parse("127.0.0.3");

    [Fact]
    public async Task DeniedNetwork_IsClosedAtOnceWithAnEvent_AndNeverReachesABackend()
    {
        await using var backend = LoopbackServer.Named();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            Clients = new ClientOptions { Allow = ["127.0.0.0/8"], Deny = ["127.0.0.2/32"] },
        });
        using var events = new EventRecorder(balancer.Events);

        Assert.Equal(backend.Address, await Loopback.AskAsync(balancer.ListenEndPoints[0], IPAddress.Loopback));
        Assert.Equal(string.Empty, await Loopback.AskAsync(balancer.ListenEndPoints[0], s_second));

        var rejected = Assert.Single(await events.WaitForAsync<ConnectionRejected>());
        Assert.Equal(RejectionReason.Denied, rejected.Reason);
        Assert.Equal(s_second, ((IPEndPoint)rejected.Client).Address);
        Assert.Equal(1, backend.Accepted);
        Assert.Equal(1, balancer.Snapshot.TotalConnections);
    }

    [Fact]
    public async Task ListenerRules_GuardOnlyTheirListener()
    {
        await using var backend = LoopbackServer.Named();
        await using var balancer = new TcpLoadBalancer(new LoadBalancerOptions
        {
            Listen = ["127.0.0.1:0", "127.0.0.2:0"],
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            Clients = new ClientOptions { Listeners = [new ListenerAccess { Listen = "127.0.0.2:0", Allow = ["127.0.0.3/32"] }] },
        });
        await balancer.StartAsync().WaitAsync(Loopback.Timeout);
        using var events = new EventRecorder(balancer.Events);
        var (open, guarded) = (balancer.ListenEndPoints[0], balancer.ListenEndPoints[1]);

        Assert.Equal(backend.Address, await Loopback.AskAsync(open, IPAddress.Loopback));
        Assert.Equal(backend.Address, await Loopback.AskAsync(guarded, s_third));
        Assert.Equal(string.Empty, await Loopback.AskAsync(guarded, IPAddress.Loopback));

        var rejected = Assert.Single(await events.WaitForAsync<ConnectionRejected>());
        Assert.Equal(RejectionReason.Denied, rejected.Reason);
        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)rejected.Client).Address);
        Assert.Equal(2, backend.Accepted);
    }

    [Fact]
    public async Task MaxConnectionsPerClient_RefusesOneTooManyFromOneAddress_NotFromAnother()
    {
        await using var backend = LoopbackServer.Holding();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            Clients = new ClientOptions { MaxConnections = 2 },
        });
        using var events = new EventRecorder(balancer.Events);
        var listener = balancer.ListenEndPoints[0];

        using var first = await Loopback.ConnectAsync(listener, s_second);
        using var second = await Loopback.ConnectAsync(listener, s_second);
        await events.WaitForAsync<BackendConnected>(2);
        using (var third = await Loopback.ConnectAsync(listener, s_second))
        {
            Assert.Empty(await Loopback.ReadToEndAsync(third));
        }

        using var other = await Loopback.ConnectAsync(listener, s_third);
        await events.WaitForAsync<BackendConnected>(3);
        first.Shutdown(SocketShutdown.Send);
        await Loopback.ReadToEndAsync(first);
        await events.WaitForAsync<ConnectionCompleted>();
        using var again = await Loopback.ConnectAsync(listener, s_second);
        await events.WaitForAsync<BackendConnected>(4);

        var rejected = Assert.Single(events.OfType<ConnectionRejected>());
        Assert.Equal((RejectionReason.ClientConnectionLimit, s_second), (rejected.Reason, ((IPEndPoint)rejected.Client).Address));
        Assert.Equal(3, balancer.Snapshot.ActiveConnections);
    }
}
