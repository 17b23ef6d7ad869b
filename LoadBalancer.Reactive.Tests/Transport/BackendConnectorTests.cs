using System.Net;
using System.Net.Sockets;
using LoadBalancer.Reactive.Tests.Infrastructure;
using LoadBalancer.Reactive.Transport;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Transport;

[Trait(TestCategories.Name, TestCategories.Loopback)]
public class BackendConnectorTests
{
    [Fact]
    public async Task ConnectAsync_BackendAccepts_ReturnsAConnectedSocket()
    {
        await using var backend = LoopbackServer.Holding();

        using var socket = await BackendConnector.ConnectAsync(backend.EndPoint, TimeSpan.FromSeconds(5), new TestScheduler(), default)
            .WaitAsync(Loopback.Timeout);

        Assert.True(socket.Connected);
        Assert.True(socket.NoDelay);
    }

    [Fact]
    public async Task ConnectAsync_Refused_ThrowsConnectionRefused()
    {
        var (holder, refusing) = Loopback.RefusingEndPoint();
        using var _ = holder;

        var exception = await Assert.ThrowsAsync<SocketException>(() =>
            BackendConnector.ConnectAsync(refusing, TimeSpan.FromSeconds(5), new TestScheduler(), default).WaitAsync(Loopback.Timeout));

        Assert.Equal(SocketError.ConnectionRefused, exception.SocketErrorCode);
    }

    [Fact]
    public async Task ConnectAsync_BackendNeverAnswers_TimesOutAtExactlyTheTimeoutInVirtualTime()
    {
        // A listener that never accepts, with its backlog already full: Linux drops further SYNs,
        // so a connect hangs until the balancer's own timeout, which runs on virtual time here.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen(0);
        var fillers = new List<Socket>();
        Task<Socket>? hanging = null;
        var scheduler = new TestScheduler();
        for (var i = 0; i < 8 && hanging is null; i++)
        {
            var attempt = BackendConnector.ConnectAsync(silent.LocalEndPoint!, TimeSpan.FromSeconds(5), scheduler, default);
            if (await Task.WhenAny(attempt, Task.Delay(TimeSpan.FromSeconds(1))) == attempt)
            {
                fillers.Add(await attempt);
            }
            else
            {
                hanging = attempt;
            }
        }

        Assert.NotNull(hanging);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(5).Ticks - 1);
        await Task.Delay(50);
        Assert.False(hanging.IsCompleted);

        scheduler.AdvanceBy(1);
        var exception = await Assert.ThrowsAsync<SocketException>(() => hanging.WaitAsync(Loopback.Timeout));
        Assert.Equal(SocketError.TimedOut, exception.SocketErrorCode);
        fillers.ForEach(filler => filler.Dispose());
    }

    [Fact]
    public async Task ConnectAsync_Cancelled_ThrowsOperationCanceled()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await using var backend = LoopbackServer.Holding();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            BackendConnector.ConnectAsync(backend.EndPoint, TimeSpan.FromSeconds(5), new TestScheduler(), cancelled.Token)
                .WaitAsync(Loopback.Timeout));
    }
}
