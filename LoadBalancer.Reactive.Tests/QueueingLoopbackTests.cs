using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests;

/// <summary>The connection limit under a real burst of connection attempts on loopback.</summary>
[Collection(nameof(RealTimeCollection))]
[Trait(TestCategories.Name, TestCategories.Loopback)]
public class QueueingLoopbackTests
{
    [Fact]
    public async Task BurstOf2000_LimitHolds_QueueDrains_AndNothingIsLeakedAfterwards()
    {
        var descriptorsBefore = OpenDescriptors();
        await using var backend = LoopbackServer.Holding();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            MaxConnections = 50,
            MaxQueueLength = 100,
            QueueTimeout = TimeSpan.FromMinutes(1),
        });
        using var events = new EventRecorder(balancer.Events);

        var clients = await Task.WhenAll(Enumerable.Range(0, 2_000).Select(_ => Loopback.ConnectAsync(balancer.ListenEndPoints[0])));
        await events.WaitForAsync<ConnectionAccepted>(2_000);
        var queued = await events.WaitForAsync<ConnectionQueued>(100);
        var refused = await events.WaitForAsync<ConnectionRejected>(1_850);
        await events.WaitForAsync<BackendConnected>(50);

        Assert.Equal(50, balancer.Snapshot.ActiveConnections);
        Assert.Equal(100, queued.Count);
        Assert.All(refused, r => Assert.Equal(RejectionReason.ConnectionLimitReached, r.Reason));

        // Every client goes away: the fifty relays end, and each freed slot takes the next in the queue.
        foreach (var client in clients)
        {
            client.Dispose();
        }

        await events.WaitForAsync<ConnectionCompleted>(150);
        Assert.Equal(0, balancer.Snapshot.ActiveConnections);
        Assert.Equal(150, balancer.Snapshot.TotalConnections);
        Assert.True(events.OfType<ConnectionAssigned>().Count() == 150);
        await Loopback.WaitUntilAsync(() => balancer.OpenConnections == 0, "the balancer holds no connection");

        await balancer.DisposeAsync();
        await backend.DisposeAsync();
        await Loopback.WaitUntilAsync(() => OpenDescriptors() <= descriptorsBefore + 20, "file descriptors are back to where they were");
    }

    [Fact]
    public async Task QueueTimeouts_LeaveNoTimerBehindOnceTheyFire()
    {
        var scheduler = new TestScheduler();
        await using var backend = LoopbackServer.Holding();
        await using var balancer = await Balancers.StartAsync(
            new LoadBalancerOptions
            {
                Backends = [new(backend.Address)],
                HealthCheck = Balancers.NoHealthChecks,
                MaxConnections = 1,
                MaxQueueLength = 10,
                QueueTimeout = TimeSpan.FromSeconds(5),
            },
            scheduler);
        using var events = new EventRecorder(balancer.Events);
        var clients = new List<System.Net.Sockets.Socket>();
        for (var i = 0; i < 6; i++)
        {
            clients.Add(await Loopback.ConnectAsync(balancer.ListenEndPoints[0]));
        }

        await events.WaitForAsync<ConnectionQueued>(5);
        Assert.Equal(5, balancer.PendingTimers);

        scheduler.AdvanceBy(TimeSpan.FromSeconds(5).Ticks);

        var rejected = await events.WaitForAsync<ConnectionRejected>(5);
        Assert.All(rejected, r => Assert.Equal(RejectionReason.QueueTimeout, r.Reason));
        Assert.Equal(0, balancer.PendingTimers);
        clients.ForEach(client => client.Dispose());
    }

    private static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;
}
