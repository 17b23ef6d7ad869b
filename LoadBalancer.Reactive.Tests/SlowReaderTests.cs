using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Reactive.Concurrency;
using System.Security.Cryptography;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Relaying;
using LoadBalancer.Reactive.Tests.Infrastructure;
using LoadBalancer.Reactive.Transport;
using Xunit.Abstractions;

namespace LoadBalancer.Reactive.Tests;

/// <summary>
/// A client that stops reading while its backend sends: back-pressure must reach the backend (its sends
/// stall) instead of the balancer buffering the difference, and nothing may be lost when the client reads again.
/// What the relay holds meanwhile is counted exactly, through pools that see every segment its pipes rent.
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

        // Kernel buffers on three sockets plus the balancer's two pipe segments: a few megabytes, not a gigabyte.
        Assert.InRange(stalledAt, Block, 64L * 1024 * 1024);
        Assert.InRange(memoryGrowth, long.MinValue, 96L * 1024 * 1024);

        client.Shutdown(SocketShutdown.Send);
        var (count, hash) = await Loopback.HashToEndAsync(client);
        Assert.Equal(Total, count);
        Assert.Equal(Convert.ToHexString(Expected(block, Total)), Convert.ToHexString(hash));
        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal(Total, completed.BytesFromBackend);
    }

    [Fact]
    public async Task BothReadersStall_TheRelayHoldsAtMostItsPauseThresholdAndASegmentEachWay_AndEveryByteArrives()
    {
        const long Download = 64L * 1024 * 1024;
        const long Upload = 32L * 1024 * 1024;
        const long Bound = SocketPipes.PauseThreshold + SocketPipes.SegmentSize;
        var block = Loopback.RandomBytes(Block, seed: 12);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var (client, clientSide) = await PairAsync(listener);
        var (backend, backendSide) = await PairAsync(listener);
        using var _ = client;
        using var __ = backend;
        client.ReceiveBufferSize = 64 * 1024;
        backend.ReceiveBufferSize = 64 * 1024;
        var fromClient = new CountingPool();
        var fromBackend = new CountingPool();
        DuplexRelay.Start(
            new PlainEnd(SocketPipes.Wrap(clientSide, SocketPipes.CreateOptions(fromClient), "client")),
            new PlainEnd(SocketPipes.Wrap(backendSide, SocketPipes.CreateOptions(fromBackend), "backend")),
            Scheduler.Default,
            TimeSpan.Zero,
            out var relayed);

        // Each peer sends without reading until both have stalled: both directions then wait on a reader.
        long downloaded = 0, uploaded = 0;
        var downloading = SendBlocksAsync(backend, block, Download, sent => Interlocked.Add(ref downloaded, sent));
        var uploading = SendBlocksAsync(client, block, Upload, sent => Interlocked.Add(ref uploaded, sent));
        var downloadStalledAt = await StallAsync(() => Interlocked.Read(ref downloaded));
        var uploadStalledAt = await StallAsync(() => Interlocked.Read(ref uploaded));
        output.WriteLine($"stalled after {downloadStalledAt / 1024} KiB down and {uploadStalledAt / 1024} KiB up; "
            + $"relay held {fromBackend.Held / 1024} KiB down and {fromClient.Held / 1024} KiB up");
        Assert.InRange(downloadStalledAt, Block, Download - 1);
        Assert.InRange(uploadStalledAt, Block, Upload - 1);

        var reading = Loopback.HashToEndAsync(client);
        var readingUpload = Loopback.HashToEndAsync(backend);
        await Task.WhenAll(downloading, uploading).WaitAsync(Loopback.Timeout);
        backend.Shutdown(SocketShutdown.Send);
        client.Shutdown(SocketShutdown.Send);
        var (downCount, downHash) = await reading;
        var (upCount, upHash) = await readingUpload;
        var result = await relayed.WaitAsync(Loopback.Timeout);

        // The most either pipe ever held at once, stalled or flowing: its pause threshold and the segment being filled.
        Assert.InRange(fromBackend.Peak, 1, Bound);
        Assert.InRange(fromClient.Peak, 1, Bound);
        Assert.Equal((Download, Upload), (downCount, upCount));
        Assert.Equal(Convert.ToHexString(Expected(block, Download)), Convert.ToHexString(downHash));
        Assert.Equal(Convert.ToHexString(Expected(block, Upload)), Convert.ToHexString(upHash));
        Assert.Equal((Upload, Download), (result.BytesFromClient, result.BytesFromBackend));
        // Once it has ended, a pipe keeps at most the segment it was writing into: the relay closes a finished end by
        // closing its socket, without completing the pipe (two system calls saved), and that segment goes with it.
        Assert.InRange(fromBackend.Held, 0, SocketPipes.SegmentSize);
        Assert.InRange(fromClient.Held, 0, SocketPipes.SegmentSize);
    }

    private static async Task<(Socket Peer, Socket Accepted)> PairAsync(Socket listener)
    {
        var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accepting = listener.AcceptAsync();
        await peer.ConnectAsync(listener.LocalEndPoint!).WaitAsync(Loopback.Timeout);
        var accepted = await accepting.WaitAsync(Loopback.Timeout);
        accepted.NoDelay = true;
        return (peer, accepted);
    }

    private static async Task SendBlocksAsync(Socket socket, byte[] block, long total, Action<long> progress)
    {
        for (long offset = 0; offset < total; offset += block.Length)
        {
            await Loopback.SendAllAsync(socket, block);
            progress(block.Length);
        }
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

    private static byte[] Expected(byte[] block, long total)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (long offset = 0; offset < total; offset += block.Length)
        {
            hash.AppendData(block);
        }

        return hash.GetHashAndReset();
    }

    // Rents from the shared pool and keeps count of the bytes its renters hold, and of the most they held at once.
    private sealed class CountingPool : MemoryPool<byte>
    {
        private long _held;
        private long _peak;

        public long Held => Interlocked.Read(ref _held);

        public long Peak => Interlocked.Read(ref _peak);

        public override int MaxBufferSize => Shared.MaxBufferSize;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
        {
            var owner = Shared.Rent(minBufferSize);
            var held = Interlocked.Add(ref _held, owner.Memory.Length);
            for (var peak = Peak; held > peak; peak = Peak)
            {
                Interlocked.CompareExchange(ref _peak, held, peak);
            }

            return new Counted(owner, this);
        }

        protected override void Dispose(bool disposing)
        {
        }

        private sealed class Counted(IMemoryOwner<byte> inner, CountingPool pool) : IMemoryOwner<byte>
        {
            private int _disposed;

            public Memory<byte> Memory => inner.Memory;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    Interlocked.Add(ref pool._held, -inner.Memory.Length);
                    inner.Dispose();
                }
            }
        }
    }
}
