using System.Net.Sockets;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Connections;
using LoadBalancer.Reactive.Relaying;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Infrastructure.VirtualTime;

namespace LoadBalancer.Reactive.Tests.Connections;

/// <summary>
/// The sampler that flushes live relays' byte counts into the fold, in virtual time. The relays are real, between
/// in-memory ends whose pipes run the relay inline: when a write to an end returns, the relay has sent and counted it.
/// </summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public sealed class RelaySamplerTests : IDisposable
{
    private readonly TestScheduler _scheduler = new();
    private readonly ConnectionRegistry _registry = new();
    private readonly List<Socket> _sockets = [];

    [Fact]
    public async Task Flushes_EachSecondARelayMoved_TheRelaysRunningTotals_AndNothingOnceItHasEnded()
    {
        var (connection, client, backend, relayed) = Relay(1);
        var observer = _scheduler.CreateObserver<BalancerInput>();
        using var flushing = new RelaySampler(_registry, _scheduler).Flushes().Subscribe(observer);

        await client.SayAsync(100);
        await backend.SayAsync(40);
        _scheduler.AdvanceTo(Seconds(1));
        _scheduler.AdvanceTo(Seconds(2));
        await client.SayAsync(50);
        _scheduler.AdvanceTo(Seconds(3));
        await client.SayAsync(7);
        client.Finish();
        backend.Finish();
        var result = await relayed.WaitAsync(Loopback.Timeout);
        _scheduler.AdvanceTo(Seconds(5));
        _registry.Remove(connection.Id);
        _scheduler.AdvanceTo(Seconds(8));

        // One input a second while bytes move, none in a second where nothing did, none once the relay ended (though
        // its connection was still registered): the last 7 bytes are left to the connection's end, with the totals.
        Assert.Equal(
            [
                (1.0, [new RelayedSoFar(1, 100, 40)]),
                (3.0, [new RelayedSoFar(1, 150, 40)]),
            ],
            observer.Values().Select(flush => (flush.Second, ((BytesRelayed)flush.Value).Relays.ToArray())));
        Assert.All(observer.Values(), flush => Assert.Equal(flush.Second, InSeconds(flush.Value.Time.UtcTicks)));
        Assert.Equal((157, 40), (result.BytesFromClient, result.BytesFromBackend));
        Assert.Equal((157, 40), (backend.Received, client.Received));
    }

    [Fact]
    public async Task Flushes_SeveralRelays_OneInputPerTick_WithOnlyThoseThatMoved()
    {
        var (_, firstClient, _, _) = Relay(1);
        var (_, secondClient, _, _) = Relay(2);
        Relay(3);
        var observer = _scheduler.CreateObserver<BalancerInput>();
        using var flushing = new RelaySampler(_registry, _scheduler).Flushes().Subscribe(observer);

        await firstClient.SayAsync(10);
        await secondClient.SayAsync(20);
        _scheduler.AdvanceTo(Seconds(1));
        await secondClient.SayAsync(5);
        _scheduler.AdvanceTo(Seconds(2));

        var flushes = observer.Values().Select(flush => ((BytesRelayed)flush.Value).Relays.OrderBy(r => r.ConnectionId).ToArray()).ToList();
        Assert.Equal(2, flushes.Count);
        Assert.Equal([new RelayedSoFar(1, 10, 0), new RelayedSoFar(2, 20, 0)], flushes[0]);
        Assert.Equal([new RelayedSoFar(2, 25, 0)], flushes[1]);
    }

    [Fact]
    public async Task Flushes_Disposed_StopsTicking()
    {
        var (_, client, _, _) = Relay(1);
        var observer = _scheduler.CreateObserver<BalancerInput>();
        var flushing = new RelaySampler(_registry, _scheduler).Flushes().Subscribe(observer);
        await client.SayAsync(10);
        _scheduler.AdvanceTo(Seconds(1));

        flushing.Dispose();
        await client.SayAsync(10);

        // Nothing is left to run: a sampler still ticking would keep the scheduler going for ever.
        await Task.Run(_scheduler.Start).WaitAsync(Loopback.Timeout);
        Assert.Single(observer.Values());
    }

    [Fact]
    public void Sample_NoConnectionOrNoRelay_IsNothing()
    {
        var sampler = new RelaySampler(_registry, _scheduler);
        Assert.Null(sampler.Sample());

        Assert.True(_registry.TryAdd(new ClientConnection(1, Unconnected(), DateTimeOffset.UnixEpoch)));
        Assert.Null(sampler.Sample());
    }

    public void Dispose() => _sockets.ForEach(socket => socket.Dispose());

    // A registered connection relaying between two in-memory ends, with no idle timeout.
    private (ClientConnection Connection, MemoryEnd Client, MemoryEnd Backend, Task<RelayResult> Relayed) Relay(long id)
    {
        var connection = new ClientConnection(id, Unconnected(), DateTimeOffset.UnixEpoch);
        var (client, backend) = (new MemoryEnd(), new MemoryEnd());
        connection.End = client;
        Assert.True(_registry.TryAdd(connection));
        var ended = new RelayEndTask();
        connection.Relay(backend, _scheduler, TimeSpan.Zero, ended);
        return (connection, client, backend, ended.Task);
    }

    private Socket Unconnected()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _sockets.Add(socket);
        return socket;
    }
}
