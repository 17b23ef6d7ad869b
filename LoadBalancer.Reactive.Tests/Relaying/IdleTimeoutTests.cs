using System.Net.Sockets;
using System.Text;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Relaying;

/// <summary>The relay's idle timeout: real sockets, virtual time.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public class IdleTimeoutTests
{
    private static readonly TimeSpan s_idle = TimeSpan.FromSeconds(10);
    private readonly TestScheduler _scheduler = new();

    [Fact]
    public async Task IdleTimeout_FiresAtTheExactTick_AndTrafficPushesItBack()
    {
        await using var backend = LoopbackServer.Echo();
        await using var balancer = await StartAsync(backend, s_idle);
        using var events = new EventRecorder(balancer.Events);
        using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await EchoAsync(client, "a");

        // One tick short of the timeout, the relay is open; traffic now moves the deadline to 20 s - 1 tick.
        _scheduler.AdvanceTo(s_idle.Ticks - 1);
        await EchoAsync(client, "b");

        // At the first deadline the relay has been idle for a tick only: it stays open.
        _scheduler.AdvanceTo(s_idle.Ticks);
        await EchoAsync(client, "c");
        var cAt = _scheduler.Clock;

        _scheduler.AdvanceTo(cAt + s_idle.Ticks - 1);
        await EchoAsync(client, "d");
        var dAt = _scheduler.Clock;

        _scheduler.AdvanceTo(dAt + s_idle.Ticks);
        Assert.Empty(await Loopback.ReadToEndAsync(client));

        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal(CompletionReason.IdleTimeout, completed.Reason);
        Assert.Equal((4, 4), (completed.BytesFromClient, completed.BytesFromBackend));
        Assert.Equal(dAt + s_idle.Ticks, completed.Timestamp.UtcTicks);
    }

    [Fact]
    public async Task IdleTimeoutZero_NeverCloses()
    {
        await using var backend = LoopbackServer.Echo();
        await using var balancer = await StartAsync(backend, TimeSpan.Zero);
        using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await EchoAsync(client, "a");

        // A week of virtual time: every second of it the byte sampler ticks (and finds nothing to flush), so a year
        // would take the test half a minute of real time.
        _scheduler.AdvanceBy(TimeSpan.FromDays(7).Ticks);

        await EchoAsync(client, "b");
    }

    private Task<TcpLoadBalancer> StartAsync(LoopbackServer backend, TimeSpan idle) =>
        Balancers.StartAsync(
            new LoadBalancerOptions
            {
                Backends = [new BackendOptions(backend.Address)],
                IdleTimeout = idle,
                HealthCheck = Balancers.NoHealthChecks,
            },
            _scheduler);

    // A round trip through the relay: when it returns, both directions have moved a byte.
    private static async Task EchoAsync(Socket client, string text)
    {
        await Loopback.SendAllAsync(client, Encoding.ASCII.GetBytes(text));
        var buffer = new byte[text.Length];
        var read = await client.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Loopback.Timeout);
        Assert.Equal(text, Encoding.ASCII.GetString(buffer, 0, read));
    }
}
