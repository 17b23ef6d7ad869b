using System.Net;
using System.Net.Sockets;
using System.Text;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests;

[Trait(TestCategories.Name, TestCategories.Loopback)]
public class TcpLoadBalancerTests
{
    [Fact]
    public async Task StartAsync_PortZero_ReportsTheBoundPort()
    {
        await using var backend = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(backend);

        var endPoint = Assert.Single(balancer.ListenEndPoints);
        Assert.Equal(IPAddress.Loopback, endPoint.Address);
        Assert.NotEqual(0, endPoint.Port);
    }

    [Fact]
    public async Task StartAsync_ListenEndpointInUse_FailsNamingIt()
    {
        using var occupier = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        occupier.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        occupier.Listen();
        var taken = occupier.LocalEndPoint!.ToString()!;
        await using var balancer = new TcpLoadBalancer(new LoadBalancerOptions
        {
            Listen = [taken],
            Backends = [new BackendOptions("127.0.0.1:9")],
        });

        var exception = await Assert.ThrowsAsync<IOException>(() => balancer.StartAsync());

        Assert.Equal($"Cannot listen on {taken}: the address is already in use.", exception.Message);
    }

    [Fact]
    public async Task StartAsync_Twice_Throws()
    {
        await using var backend = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(backend);

        await Assert.ThrowsAsync<InvalidOperationException>(() => balancer.StartAsync());
    }

    [Fact]
    public async Task Events_OneConnection_AreReportedInOrderWithBytes()
    {
        await using var backend = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(backend);
        using var events = new EventRecorder(balancer.Events);

        using (var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]))
        {
            await Loopback.SendAllAsync(client, Encoding.ASCII.GetBytes("ping!"));
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal("ping!", Encoding.ASCII.GetString(await Loopback.ReadToEndAsync(client)));
        }

        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal(
            [typeof(ConnectionAccepted), typeof(ConnectionAssigned), typeof(BackendConnected), typeof(ConnectionCompleted)],
            events.Events.Select(e => e.GetType()));
        Assert.Equal(backend.Address, completed.Backend);
        Assert.Equal(5, completed.BytesFromClient);
        Assert.Equal(5, completed.BytesFromBackend);
        Assert.Equal(0, completed.ActiveConnections);
        Assert.Equal(1, events.OfType<ConnectionAssigned>().Single().ActiveConnections);
    }

    [Fact]
    public async Task LeastConnections_HeldConnections_SpreadEvenlyAndRefillTheEmptiedBackend()
    {
        await using var a = LoopbackServer.Holding();
        await using var b = LoopbackServer.Holding();
        await using var c = LoopbackServer.Holding();
        await using var balancer = await Balancers.StartAsync(a, b, c);
        using var events = new EventRecorder(balancer.Events);

        var clients = new List<Socket>();
        for (var i = 0; i < 30; i++)
        {
            clients.Add(await Loopback.ConnectAsync(balancer.ListenEndPoints[0]));
        }

        await events.WaitForAsync<BackendConnected>(30);
        Assert.Equal([10, 10, 10], balancer.Snapshot.Backends.Select(backend => backend.ActiveConnections));

        // A connect completes in the kernel before the test server's accept loop takes it.
        await Loopback.WaitUntilAsync(() => a.Accepted + b.Accepted + c.Accepted == 30, "the backends have accepted 30");
        Assert.Equal([10, 10, 10], new[] { a.Accepted, b.Accepted, c.Accepted });

        // Close five of a's clients: a drops to 5, so the next five connections all go to a.
        var onA = ClientsOn(a, clients, events).Take(5).ToList();
        onA.ForEach(client => client.Dispose());
        await events.WaitForAsync<ConnectionCompleted>(5);
        Assert.Equal([5, 10, 10], balancer.Snapshot.Backends.Select(backend => backend.ActiveConnections));

        for (var i = 0; i < 5; i++)
        {
            clients.Add(await Loopback.ConnectAsync(balancer.ListenEndPoints[0]));
        }

        await events.WaitForAsync<BackendConnected>(35);
        Assert.Equal([10, 10, 10], balancer.Snapshot.Backends.Select(backend => backend.ActiveConnections));
        await Loopback.WaitUntilAsync(() => a.Accepted + b.Accepted + c.Accepted == 35, "the backends have accepted 35");
        Assert.Equal([15, 10, 10], new[] { a.Accepted, b.Accepted, c.Accepted });
        Assert.All(events.OfType<ConnectionAssigned>().Skip(30), assigned => Assert.Equal(a.Address, assigned.Backend));

        clients.ForEach(client => client.Dispose());
        await events.WaitForAsync<ConnectionCompleted>(35);
        Assert.Equal(0, balancer.Snapshot.ActiveConnections);
    }

    [Fact]
    public async Task CustomStrategy_ByInstance_PlacesEveryConnection()
    {
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new BackendOptions(a.Address), new BackendOptions(b.Address)],
            CustomStrategy = new SecondIfAvailable(),
            Strategy = "ignored-when-a-custom-strategy-is-set",
        });

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(b.Address, await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        }
    }

    [Fact]
    public async Task RefusingBackend_IsRetriedOnAnotherAndTheClientNeverNotices()
    {
        var (holder, refusing) = Loopback.RefusingEndPoint();
        using var _ = holder;
        await using var good = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new BackendOptions(refusing.ToString()), new BackendOptions(good.Address)],
        });
        using var events = new EventRecorder(balancer.Events);

        // The first connection goes to the refusing backend (ties rotate from the first), is refused,
        // and is retried on the good one, which relays it as if nothing had happened.
        using (var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]))
        {
            await Loopback.SendAllAsync(client, "still here"u8.ToArray());
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal("still here", Encoding.ASCII.GetString(await Loopback.ReadToEndAsync(client)));
        }

        var attempt = Assert.Single(await events.WaitForAsync<ConnectAttemptFailed>());
        Assert.Equal((refusing.ToString(), SocketError.ConnectionRefused, 1), (attempt.Backend, attempt.Error, attempt.Attempt));
        Assert.Contains(refusing.ToString(), attempt.Message, StringComparison.Ordinal);
        await events.WaitForAsync<ConnectionCompleted>();
        Assert.Equal(
            [(refusing.ToString(), 1), (good.Address, 2)],
            events.OfType<ConnectionAssigned>().Select(a => (a.Backend, a.Attempt)));
        Assert.Empty(events.OfType<ConnectionFailed>());
        Assert.All(balancer.Snapshot.Backends, backend => Assert.Equal(0, backend.ActiveConnections));
        Assert.Equal(1, balancer.Snapshot.Backends[0].FailedConnections);
    }

    [Fact]
    public async Task RefusingBackend_ManyConnections_LeaveEveryActiveCountAtZero()
    {
        var (holder, refusing) = Loopback.RefusingEndPoint();
        using var _ = holder;
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new BackendOptions(refusing.ToString())],
        });
        using var events = new EventRecorder(balancer.Events);

        await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
            await ReadUntilClosedAsync(client);
        }));

        var failed = await events.WaitForAsync<ConnectionFailed>(20);
        Assert.All(failed, f => Assert.Equal((SocketError.ConnectionRefused, 1), (f.Error, f.Attempts)));
        var backend = Assert.Single(balancer.Snapshot.Backends);
        Assert.Equal(0, backend.ActiveConnections);
        Assert.Equal(20, backend.TotalConnections);
        Assert.Equal(20, backend.FailedConnections);
    }

    [Fact]
    public async Task Events_ThrowingSubscriber_DoesNotStopTheBalancerOrSkewCounts()
    {
        await using var backend = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(backend);
        using var throwing = balancer.Events.Subscribe(_ => throw new InvalidOperationException("subscriber bug"));
        using var events = new EventRecorder(balancer.Events);

        for (var i = 0; i < 20; i++)
        {
            using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
            await Loopback.SendAllAsync(client, "x"u8.ToArray());
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal("x", Encoding.ASCII.GetString(await Loopback.ReadToEndAsync(client)));
        }

        await events.WaitForAsync<ConnectionCompleted>(20);
        await events.WaitForAsync<SubscriberFaulted>();
        Assert.Equal(0, balancer.Snapshot.ActiveConnections);
        Assert.Equal(20, balancer.Snapshot.TotalConnections);
    }

    [Fact]
    public async Task Events_StuckSubscriber_DoesNotSlowTheBalancer()
    {
        await using var backend = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new BackendOptions(backend.Address)],
            EventBufferCapacity = 8,
        });
        using var gate = new ManualResetEventSlim();
        var dropped = new TaskCompletionSource<long>();
        using var stuck = balancer.Events.Subscribe(e =>
        {
            if (e is EventsDropped d)
            {
                dropped.TrySetResult(d.Count);
            }

            gate.Wait(Loopback.Timeout);
        });

        for (var i = 0; i < 20; i++)
        {
            using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
            await Loopback.SendAllAsync(client, "y"u8.ToArray());
            client.Shutdown(SocketShutdown.Send);
            await Loopback.ReadToEndAsync(client);
        }

        gate.Set();
        Assert.True(await dropped.Task.WaitAsync(Loopback.Timeout) > 0);
        Assert.Equal(20, balancer.Snapshot.TotalConnections);
    }

    [Fact]
    public async Task StopAsync_StopsAcceptingAndLetsOpenConnectionsFinish()
    {
        await using var backend = LoopbackServer.Echo();
        var balancer = await Balancers.StartAsync(backend);
        using var events = new EventRecorder(balancer.Events);
        var listen = balancer.ListenEndPoints[0];
        using var client = await Loopback.ConnectAsync(listen);
        await events.WaitForAsync<BackendConnected>();

        var stopping = balancer.StopAsync();

        await Assert.ThrowsAsync<SocketException>(() => Loopback.ConnectAsync(listen));
        Assert.False(stopping.IsCompleted);
        await Loopback.SendAllAsync(client, "late"u8.ToArray());
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("late", Encoding.ASCII.GetString(await Loopback.ReadToEndAsync(client)));
        await stopping.WaitAsync(Loopback.Timeout);

        var stopped = Assert.Single(await events.WaitForAsync<BalancerStopped>());
        Assert.Equal((1, 0), (stopped.Finished, stopped.Aborted));
    }

    [Fact]
    public async Task StopAsync_DeadlinePassed_CutsOpenConnectionsWithAReset()
    {
        await using var backend = LoopbackServer.Holding();
        var balancer = await Balancers.StartAsync(backend);
        using var events = new EventRecorder(balancer.Events);
        using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await events.WaitForAsync<BackendConnected>();

        using var deadline = new CancellationTokenSource();
        var stopping = balancer.StopAsync(deadline.Token);
        await deadline.CancelAsync();
        await stopping.WaitAsync(Loopback.Timeout);

        var exception = await Assert.ThrowsAsync<SocketException>(() => Loopback.ReadToEndAsync(client));
        Assert.Equal(SocketError.ConnectionReset, exception.SocketErrorCode);
        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal(CompletionReason.Aborted, completed.Reason);
        var stopped = Assert.Single(await events.WaitForAsync<BalancerStopped>());
        Assert.Equal((0, 1), (stopped.Finished, stopped.Aborted));
        Assert.Equal(0, balancer.Snapshot.ActiveConnections);
        Assert.True(events.Completed || (await WaitCompletedAsync(events)));
    }

    [Fact]
    public async Task DisposeAsync_DuringABurst_LeavesNothingOpenAndEveryCountAtZero()
    {
        await using var backend = LoopbackServer.Holding();
        var balancer = await Balancers.StartAsync(backend);
        using var events = new EventRecorder(balancer.Events);
        var clients = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Loopback.ConnectAsync(balancer.ListenEndPoints[0])));

        await balancer.DisposeAsync().AsTask().WaitAsync(Loopback.Timeout);

        Assert.True(await WaitCompletedAsync(events));
        var accepted = events.OfType<ConnectionAccepted>().Count;
        var ended = events.OfType<ConnectionCompleted>().Count + events.OfType<ConnectionFailed>().Count;
        Assert.Equal(accepted, ended);
        Assert.Equal(0, balancer.Snapshot.ActiveConnections);
        var stopped = Assert.Single(events.OfType<BalancerStopped>());
        Assert.Equal(accepted, stopped.Finished + stopped.Aborted);
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task DisposeAsync_NeverStarted_CompletesEvents()
    {
        var balancer = new TcpLoadBalancer(new LoadBalancerOptions
        {
            Listen = ["127.0.0.1:0"],
            Backends = [new BackendOptions("127.0.0.1:9")],
        });
        using var events = new EventRecorder(balancer.Events);

        await balancer.DisposeAsync();
        await balancer.DisposeAsync();

        Assert.True(await WaitCompletedAsync(events));
        Assert.Empty(events.Events);
    }

    private sealed class SecondIfAvailable : Reactive.Balancing.Strategies.ILoadBalancingStrategy
    {
        public int Pick(in Reactive.Balancing.Strategies.BalancingContext context) =>
            context.Backends.Length > 1 && context.Backends[1].Available ? 1 : Reactive.Balancing.Strategies.BalancingContext.None;
    }

    private static IEnumerable<Socket> ClientsOn(LoopbackServer backend, List<Socket> clients, EventRecorder events)
    {
        var connectionOf = events.OfType<ConnectionAccepted>().ToDictionary(e => e.Client.ToString()!, e => e.ConnectionId);
        var backendOf = events.OfType<ConnectionAssigned>().ToDictionary(e => e.ConnectionId, e => e.Backend);
        return clients.Where(client => backendOf[connectionOf[client.LocalEndPoint!.ToString()!]] == backend.Address);
    }

    // A client the balancer closes without relaying sees either an orderly close or a reset,
    // depending on whether its own bytes were still unread; both mean "closed".
    private static async Task ReadUntilClosedAsync(Socket client)
    {
        try
        {
            await Loopback.ReadToEndAsync(client);
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
    }

    private static async Task<bool> WaitCompletedAsync(EventRecorder events)
    {
        var deadline = DateTime.UtcNow + Loopback.Timeout;
        while (!events.Completed && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        return events.Completed;
    }
}
