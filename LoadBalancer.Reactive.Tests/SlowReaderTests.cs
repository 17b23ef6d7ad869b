using System.Net.Sockets;
using System.Security.Cryptography;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LoadBalancer.Reactive.Tests;

/// <summary>
/// A client that stops reading while its backend sends: back-pressure must reach the backend (its sends
/// stall) instead of the balancer buffering the difference, and nothing may be lost when the client reads again.
/// Runs alone, so the process's memory is this test's.
/// </summary>
[Collection(nameof(RealTimeCollection))]
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class SlowReaderTests(ITestOutputHelper output)
{
    private const int Block = 64 * 1024;
    private const long Total = 1L << 30; // 1 GiB

    [Fact]
    public async Task ClientThatDoesNotRead_StallsTheBackend_AndThenGetsEveryByteOfAGigabyte()
    {
        var block = Loopback.RandomBytes(Block, seed: 11);
        long sent = 0;
        await using var backend = new LoopbackServer(async socket =>
        {
            for (long offset = 0; offset < Total; offset += Block)
            {
                await Loopback.SendAllAsync(socket, block);
                Interlocked.Add(ref sent, Block);
            }

            socket.Shutdown(SocketShutdown.Send);
            await Loopback.ReadToEndAsync(socket);
        });
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
        });
        using var events = new EventRecorder(balancer.Events);
        GC.Collect();
        var memoryBefore = Environment.WorkingSet;

        using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        client.ReceiveBufferSize = 64 * 1024;
        var stalledAt = await StallAsync(() => Interlocked.Read(ref sent));
        var memoryGrowth = Environment.WorkingSet - memoryBefore;
        output.WriteLine($"backend stalled after {stalledAt / 1024} KiB; working set grew {memoryGrowth / 1024} KiB");

        // Kernel buffers on three sockets plus the balancer's 1 MiB pipe: a few megabytes, not a gigabyte.
        Assert.InRange(stalledAt, Block, 64L * 1024 * 1024);
        Assert.InRange(memoryGrowth, long.MinValue, 96L * 1024 * 1024);

        client.Shutdown(SocketShutdown.Send);
        var (count, hash) = await Loopback.HashToEndAsync(client);
        Assert.Equal(Total, count);
        Assert.Equal(Convert.ToHexString(Expected(block)), Convert.ToHexString(hash));
        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal(Total, completed.BytesFromBackend);
    }

    // The backend's progress once it has stopped moving for half a second.
    private static async Task<long> StallAsync(Func<long> progress)
    {
        var deadline = DateTime.UtcNow + Loopback.Timeout;
        var last = -1L;
        while (DateTime.UtcNow < deadline)
        {
            var now = progress();
            if (now == last && now > 0)
            {
                return now;
            }

            last = now;
            await Task.Delay(500);
        }

        throw new TimeoutException($"the backend never stalled; it had sent {last} bytes");
    }

    private static byte[] Expected(byte[] block)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (long offset = 0; offset < Total; offset += Block)
        {
            hash.AppendData(block);
        }

        return hash.GetHashAndReset();
    }
}
