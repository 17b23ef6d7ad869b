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
    public async Task TryConnectAsync_BackendAccepts_ReturnsAConnectedSocket()
    {
        await using var backend = LoopbackServer.Holding();

        var (connected, error) = await BackendConnector.TryConnectAsync(backend.EndPoint, TimeSpan.FromSeconds(5), new TestScheduler(), default)
            .WaitAsync(Loopback.Timeout);

        using var socket = Assert.IsType<Socket>(connected);
        Assert.Equal(SocketError.Success, error);
        Assert.True(socket.Connected);
        Assert.True(socket.NoDelay);
    }

    [Fact]
    public async Task TryConnectAsync_Refused_ReturnsConnectionRefused()
    {
        var (holder, refusing) = Loopback.RefusingEndPoint();
        using var _ = holder;

        var (socket, error) = await BackendConnector.TryConnectAsync(refusing, TimeSpan.FromSeconds(5), new TestScheduler(), default)
            .WaitAsync(Loopback.Timeout);

        Assert.Null(socket);
        Assert.Equal(SocketError.ConnectionRefused, error);
    }

    [Fact]
    public async Task TryConnectAsync_BackendNeverAnswers_TimesOutAtExactlyTheTimeoutInVirtualTime()
    {
        // A listener that never accepts, with its backlog already full: Linux drops further SYNs,
        // so a connect hangs until the balancer's own timeout, which runs on virtual time here.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen(0);
        var fillers = new List<Socket>();
        Task<(Socket? Socket, SocketError Error)>? hanging = null;
        var scheduler = new TestScheduler();
        for (var i = 0; i < 8 && hanging is null; i++)
        {
            var attempt = BackendConnector.TryConnectAsync(silent.LocalEndPoint!, TimeSpan.FromSeconds(5), scheduler, default);
            if (await Task.WhenAny(attempt, Task.Delay(TimeSpan.FromSeconds(1))) == attempt)
            {
                fillers.Add((await attempt).Socket!);
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
        var (socket, error) = await hanging.WaitAsync(Loopback.Timeout);
        Assert.Null(socket);
        Assert.Equal(SocketError.TimedOut, error);
        fillers.ForEach(filler => filler.Dispose());
    }

    [Fact]
    public async Task TryConnectAsync_Cancelled_ReturnsOperationAbortedWithoutConnecting()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await using var backend = LoopbackServer.Holding();

        var (socket, error) = await BackendConnector.TryConnectAsync(backend.EndPoint, TimeSpan.FromSeconds(5), new TestScheduler(), cancelled.Token)
            .WaitAsync(Loopback.Timeout);

        Assert.Null(socket);
        Assert.Equal(SocketError.OperationAborted, error);
        Assert.Equal(0, backend.Accepted);
    }
}
