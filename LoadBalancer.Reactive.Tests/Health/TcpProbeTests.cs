using System.Net;
using System.Net.Sockets;
using System.Text;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Health;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Health;

/// <summary>One probe against real loopback servers.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public class TcpProbeTests
{
    private static readonly HealthCheckOptions s_connectOnly = new() { Timeout = TimeSpan.FromSeconds(5) };

    [Fact]
    public async Task ProbeAsync_ListeningBackend_IsHealthy()
    {
        await using var backend = LoopbackServer.Holding();

        Assert.True(await Probe(backend.EndPoint, s_connectOnly));
    }

    [Fact]
    public async Task ProbeAsync_RefusingBackend_IsUnhealthy()
    {
        var (holder, refusing) = Loopback.RefusingEndPoint();
        using var _ = holder;

        Assert.False(await Probe(refusing, s_connectOnly));
    }

    [Theory]
    [InlineData("+PONG\r\n", true)]
    [InlineData("-ERR not ready\r\n", false)]
    [InlineData("", false)]
    public async Task ProbeAsync_SendAndExpect_ChecksTheReplyPrefix(string reply, bool healthy)
    {
        var asked = new TaskCompletionSource<string>();
        await using var backend = new LoopbackServer(async socket =>
        {
            var buffer = new byte[64];
            var read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
            asked.TrySetResult(Encoding.UTF8.GetString(buffer, 0, read));
            await Loopback.SendAllAsync(socket, Encoding.UTF8.GetBytes(reply));
            socket.Shutdown(SocketShutdown.Send);
        });

        var result = await Probe(backend.EndPoint, s_connectOnly with { Send = "PING\r\n", Expect = "+PONG" });

        Assert.Equal(healthy, result);
        Assert.Equal("PING\r\n", await asked.Task.WaitAsync(Loopback.Timeout));
    }

    [Fact]
    public async Task ProbeAsync_BackendThatNeverAnswers_IsUnhealthyAtExactlyTheTimeoutInVirtualTime()
    {
        // Connects fine, then says nothing: only the probe's timeout can end it.
        await using var silent = LoopbackServer.Holding();
        var scheduler = new TestScheduler();
        var probing = TcpProbe.ProbeAsync(
            silent.EndPoint, s_connectOnly with { Timeout = TimeSpan.FromSeconds(1), Send = "PING\r\n", Expect = "+PONG" }, scheduler, default);
        await Loopback.WaitUntilAsync(() => silent.Accepted == 1, "the probe has connected");

        scheduler.AdvanceBy(TimeSpan.FromSeconds(1).Ticks - 1);
        await Task.Delay(50);
        Assert.False(probing.IsCompleted);

        scheduler.AdvanceBy(1);
        Assert.False(await probing.WaitAsync(Loopback.Timeout));
    }

    private static Task<bool> Probe(IPEndPoint endPoint, HealthCheckOptions options) =>
        TcpProbe.ProbeAsync(endPoint, options, System.Reactive.Concurrency.Scheduler.Default, default).WaitAsync(Loopback.Timeout);
}
