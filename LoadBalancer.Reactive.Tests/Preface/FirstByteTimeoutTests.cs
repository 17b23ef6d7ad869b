using System.IO.Pipelines;
using System.Net.Sockets;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Connections;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Preface;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Preface;

/// <summary>The first-byte timeout: its clock in virtual time, and its effect over real sockets.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class FirstByteTimeoutTests
{
    [Fact]
    public async Task WaitAsync_GivesUpAtTheExactTick_AndLeavesAByteThatCameInTimeUnread()
    {
        var scheduler = new TestScheduler();
        var silent = new Pipe();
        var waiting = FirstByte.WaitAsync(silent.Reader, NothingUnread, TimeSpan.FromSeconds(3), scheduler, CancellationToken.None);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(2.999).Ticks);
        Assert.False(waiting.IsCompleted);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(0.001).Ticks);
        Assert.Equal("the client sent nothing within 3s", await waiting.WaitAsync(Loopback.Timeout));

        var talking = new Pipe();
        var waitingForByte = FirstByte.WaitAsync(talking.Reader, NothingUnread, TimeSpan.FromSeconds(3), scheduler, CancellationToken.None);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(1).Ticks);
        await talking.Writer.WriteAsync("hi"u8.ToArray());
        Assert.Null(await waitingForByte.WaitAsync(Loopback.Timeout));
        var unread = await talking.Reader.ReadAsync();
        Assert.Equal("hi"u8.ToArray(), System.Buffers.BuffersExtensions.ToArray(unread.Buffer));

        var closing = new Pipe();
        var waitingForClose = FirstByte.WaitAsync(closing.Reader, NothingUnread, TimeSpan.FromSeconds(3), scheduler, CancellationToken.None);
        await closing.Writer.CompleteAsync();
        Assert.Equal("the client closed without sending a byte", await waitingForClose.WaitAsync(Loopback.Timeout));
    }

    [Fact]
    public async Task WaitAsync_WhenTheTimeRunsOutWithBytesInTheSocketNotYetRead_WaitsForThemInsteadOfBlamingTheClient()
    {
        var scheduler = new TestScheduler();
        var late = new Pipe();
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = FirstByte.WaitAsync(late.Reader, () => asked.TrySetResult(), TimeSpan.FromSeconds(3), scheduler, CancellationToken.None);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(2.999).Ticks);
        Assert.False(asked.Task.IsCompleted);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(0.001).Ticks);
        await asked.Task.WaitAsync(Loopback.Timeout);

        // The balancer's receive loop catches up and hands the pipe what the client sent in time.
        await late.Writer.WriteAsync("hi"u8.ToArray());
        Assert.Null(await waiting.WaitAsync(Loopback.Timeout));
        var unread = await late.Reader.ReadAsync();
        Assert.Equal("hi"u8.ToArray(), System.Buffers.BuffersExtensions.ToArray(unread.Buffer));
    }

    [Fact]
    public async Task ArrivedUnread_IsWhatTheSocketHoldsForTheBalancer()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen();
        using var client = await Loopback.ConnectAsync(listener.LocalEndPoint!);
        using var accepted = await listener.AcceptAsync().WaitAsync(Loopback.Timeout);
        var connection = new ClientConnection(1, accepted, DateTimeOffset.UnixEpoch);
        Assert.False(connection.ArrivedUnread());

        await Loopback.SendAllAsync(client, "x"u8.ToArray());
        Assert.True(accepted.Poll(Loopback.Timeout, SelectMode.SelectRead));
        Assert.True(connection.ArrivedUnread());
    }

    [Fact]
    public async Task SilentClient_IsClosedBeforeReachingABackend_WhileATalkingOneIsRelayed()
    {
        // Virtual time: the talking client's first byte can never lose a race with the clock on a busy machine.
        var scheduler = new TestScheduler();
        await using var backend = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(
            new LoadBalancerOptions
            {
                Backends = [new(backend.Address)],
                HealthCheck = Balancers.NoHealthChecks,
                FirstByteTimeout = TimeSpan.FromMilliseconds(300),
            },
            scheduler);
        using var events = new EventRecorder(balancer.Events);

        // One accept loop: the silent client is accepted, and its clock started, before the talking one.
        using var silent = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        using var talking = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await Loopback.SendAllAsync(talking, "hello"u8.ToArray());
        talking.Shutdown(SocketShutdown.Send);
        Assert.Equal("hello"u8.ToArray(), await Loopback.ReadToEndAsync(talking));
        Assert.Empty(events.OfType<ConnectionRejected>());

        scheduler.AdvanceBy(TimeSpan.FromMilliseconds(300).Ticks);
        Assert.Empty(await Loopback.ReadToEndAsync(silent));
        var rejected = Assert.Single(await events.WaitForAsync<ConnectionRejected>());
        Assert.Equal(RejectionReason.FirstByteTimeout, rejected.Reason);
        Assert.Equal(1, backend.Accepted);
        Assert.Equal(1, balancer.Snapshot.TotalConnections);
    }

    private static bool NothingUnread() => false;
}
