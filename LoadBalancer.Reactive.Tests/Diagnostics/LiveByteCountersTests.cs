using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Reactive.Linq;
using System.Security.Cryptography;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Diagnostics;

/// <summary>
/// Byte counters that grow while bytes flow: a long relay, fed in bursts, shows in the statistics and the meters before
/// it closes, and after it closes both hold exactly the bytes relayed.
/// </summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class LiveByteCountersTests
{
    [Fact]
    public async Task LongRelayFedInBursts_StatisticsAndMetersGrowBeforeItCloses_AndHoldExactlyItsBytesAfter()
    {
        await using var backend = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(backend);
        using var events = new EventRecorder(balancer.Events);
        long transmitted = 0, received = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == balancer.Meter && instrument.Name == "loadbalancer.io")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "network.io.direction")
                {
                    _ = Equals(tag.Value, "transmit") ? Interlocked.Add(ref transmitted, value) : Interlocked.Add(ref received, value);
                }
            }
        });
        listener.Start();

        using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        using var sent = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var echoed = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var total = 0L;
        foreach (var (size, seed) in new[] { (256 * 1024, 1), (64 * 1024, 2), (1024 * 1024, 3) })
        {
            var burst = Loopback.RandomBytes(size, seed);
            sent.AppendData(burst);
            await Loopback.SendAllAsync(client, burst);
            echoed.AppendData(await ReadExactlyAsync(client, size));
            total += size;

            // The relay is still open, yet every byte of the burst is counted within about a second.
            await Loopback.WaitUntilAsync(
                () => balancer.Statistics is { BytesFromClient: var up, BytesFromBackend: var down } && up == total && down == total,
                $"the statistics count {total} bytes each way");
            await Loopback.WaitUntilAsync(
                () => Interlocked.Read(ref transmitted) == total && Interlocked.Read(ref received) == total, $"the meter counts {total} bytes each way");
            Assert.Empty(events.OfType<ConnectionCompleted>());
            Assert.Equal(1, balancer.Snapshot.ActiveConnections);
        }

        client.Shutdown(SocketShutdown.Send);
        Assert.Empty(await Loopback.ReadToEndAsync(client));
        Assert.Equal(Convert.ToHexString(sent.GetHashAndReset()), Convert.ToHexString(echoed.GetHashAndReset()));

        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal((total, total), (completed.BytesFromClient, completed.BytesFromBackend));
        var statistics = balancer.Statistics;
        Assert.Equal((total, total), (statistics.BytesFromClient, statistics.BytesFromBackend));
        Assert.Equal((total, total, 1L), (statistics.Backends[0].BytesFromClient, statistics.Backends[0].BytesFromBackend, statistics.Backends[0].Completed));
        Assert.Equal((total, total), (Interlocked.Read(ref transmitted), Interlocked.Read(ref received)));
    }

    [Fact]
    public async Task Sampler_OnVirtualTime_FlushesOnlyWhileBytesMove_AndStopsWithTheBalancer()
    {
        var scheduler = new TestScheduler();
        await using var backend = LoopbackServer.Echo();
        var balancer = await Balancers.StartAsync(
            new LoadBalancerOptions { Backends = [new(backend.Address)], HealthCheck = Balancers.NoHealthChecks }, scheduler);
        using var events = new EventRecorder(balancer.Events);
        var inputs = new List<BalancerInput>();
        using var logging = balancer.InputLog.Subscribe(input =>
        {
            lock (inputs)
            {
                inputs.Add(input);
            }
        });
        BytesRelayed[] Flushes()
        {
            lock (inputs)
            {
                return [.. inputs.OfType<BytesRelayed>()];
            }
        }

        using (var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]))
        {
            await Loopback.SendAllAsync(client, "hello"u8.ToArray());
            await ReadExactlyAsync(client, 5);

            // The relay counts a send once it has completed, a moment after the client may have read it: tick a second
            // at a time until a flush has seen the 5 bytes both ways.
            await Loopback.WaitUntilAsync(
                () =>
                {
                    scheduler.AdvanceBy(TimeSpan.FromSeconds(1).Ticks);
                    return Flushes() is [.., { Relays: [{ BytesFromClient: 5, BytesFromBackend: 5 }] }];
                },
                "a flush counts the 5 bytes each way");
            Assert.All(Flushes(), flush => Assert.Equal(0, flush.Time.UtcTicks % TimeSpan.TicksPerSecond));

            Assert.Equal((5, 5), (balancer.Statistics.BytesFromClient, balancer.Statistics.BytesFromBackend));
            var flushed = Flushes().Length;
            scheduler.AdvanceBy(TimeSpan.FromSeconds(10).Ticks);
            Assert.Equal(flushed, Flushes().Length);
        }

        await events.WaitForAsync<ConnectionCompleted>();
        await balancer.StopAsync().WaitAsync(Loopback.Timeout);

        // Nothing is left to run once the balancer has stopped: a sampler still ticking would run the scheduler for ever.
        await Task.Run(scheduler.Start).WaitAsync(Loopback.Timeout);
        Assert.Equal((5, 5), (balancer.Statistics.BytesFromClient, balancer.Statistics.BytesFromBackend));
        Assert.IsType<StopFinished>(inputs[^1]);
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None).AsTask().WaitAsync(Loopback.Timeout);
            Assert.NotEqual(0, n);
            read += n;
        }

        return buffer;
    }
}
