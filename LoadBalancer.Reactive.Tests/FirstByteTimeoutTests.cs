using System.IO.Pipelines;
using System.Net.Sockets;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Relaying;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests;

/// <summary>The first-byte timeout: its clock in virtual time, and its effect over real sockets.</summary>
public sealed class FirstByteTimeoutTests
{
    [Fact]
    public async Task WaitAsync_GivesUpAtTheExactTick_AndLeavesAByteThatCameInTimeUnread()
    {
        var scheduler = new TestScheduler();
        var silent = new Pipe();
        var waiting = FirstByte.WaitAsync(silent.Reader, TimeSpan.FromSeconds(3), scheduler, CancellationToken.None);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(2.999).Ticks);
        Assert.False(waiting.IsCompleted);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(0.001).Ticks);
        Assert.Equal("the client sent nothing within 3s", await waiting.WaitAsync(Loopback.Timeout));

        var talking = new Pipe();
        var waitingForByte = FirstByte.WaitAsync(talking.Reader, TimeSpan.FromSeconds(3), scheduler, CancellationToken.None);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(1).Ticks);
        await talking.Writer.WriteAsync("hi"u8.ToArray());
        Assert.Null(await waitingForByte.WaitAsync(Loopback.Timeout));
        var unread = await talking.Reader.ReadAsync();
        Assert.Equal("hi"u8.ToArray(), System.Buffers.BuffersExtensions.ToArray(unread.Buffer));

        var closing = new Pipe();
        var waitingForClose = FirstByte.WaitAsync(closing.Reader, TimeSpan.FromSeconds(3), scheduler, CancellationToken.None);
        await closing.Writer.CompleteAsync();
        Assert.Equal("the client closed without sending a byte", await waitingForClose.WaitAsync(Loopback.Timeout));
    }

    [Fact]
    public async Task SilentClient_IsClosedBeforeReachingABackend_WhileATalkingOneIsRelayed()
    {
        await using var backend = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            FirstByteTimeout = TimeSpan.FromMilliseconds(300),
        });
        using var events = new EventRecorder(balancer.Events);

        using var silent = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        using var talking = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await Loopback.SendAllAsync(talking, "hello"u8.ToArray());
        talking.Shutdown(SocketShutdown.Send);

        Assert.Equal("hello"u8.ToArray(), await Loopback.ReadToEndAsync(talking));
        Assert.Empty(await Loopback.ReadToEndAsync(silent));
        var rejected = Assert.Single(await events.WaitForAsync<ConnectionRejected>());
        Assert.Equal(RejectionReason.FirstByteTimeout, rejected.Reason);
        Assert.Equal(1, backend.Accepted);
        Assert.Equal(1, balancer.Snapshot.TotalConnections);
    }
}
