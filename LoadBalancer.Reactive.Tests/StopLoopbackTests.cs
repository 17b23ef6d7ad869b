using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests;

/// <summary>Stopping a balancer that has connections relayed and waiting in its queue, on loopback.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public class StopLoopbackTests
{
    [Fact]
    public async Task StopAsync_DeadlinePassedWithConnectionsQueued_RejectsThemAtOnceAndCountsEveryoneCut()
    {
        // The queue timeout is an hour: without the deadline emptying the queue, the stop would wait for it.
        await using var backend = LoopbackServer.Holding();
        var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            MaxConnections = 1,
            MaxQueueLength = 10,
            QueueTimeout = TimeSpan.FromHours(1),
        });
        using var events = new EventRecorder(balancer.Events);
        var clients = new List<System.Net.Sockets.Socket> { await Loopback.ConnectAsync(balancer.ListenEndPoints[0]) };
        await events.WaitForAsync<BackendConnected>();
        for (var i = 0; i < 3; i++)
        {
            clients.Add(await Loopback.ConnectAsync(balancer.ListenEndPoints[0]));
        }

        await events.WaitForAsync<ConnectionQueued>(3);

        await balancer.StopAsync(new CancellationToken(canceled: true)).WaitAsync(Loopback.Timeout);

        var stopped = (await events.WaitForAsync<BalancerStopped>()).Single();
        Assert.Equal((0, 4), (stopped.Finished, stopped.Aborted));
        Assert.Equal(
            [RejectionReason.BalancerStopping, RejectionReason.BalancerStopping, RejectionReason.BalancerStopping],
            events.OfType<ConnectionRejected>().Select(rejected => rejected.Reason));
        Assert.Equal(CompletionReason.Aborted, Assert.Single(events.OfType<ConnectionCompleted>()).Reason);
        // The relayed client is cut with a reset (its backend too); the queued ones, never relayed, are closed.
        var reset = await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(() => Loopback.ReadToEndAsync(clients[0]).WaitAsync(Loopback.Timeout));
        Assert.Equal(System.Net.Sockets.SocketError.ConnectionReset, reset.SocketErrorCode);
        foreach (var queued in clients.Skip(1))
        {
            Assert.Empty(await Loopback.ReadToEndAsync(queued).WaitAsync(Loopback.Timeout));
        }

        clients.ForEach(client => client.Dispose());
    }
}
