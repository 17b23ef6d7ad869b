using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Pipelines.Sockets.Unofficial;

namespace LoadBalancer.Reactive.Transport;

/// <summary>The pipes relays read sockets through, and the relay ends made from them.</summary>
internal static class SocketPipes
{
    private const int SegmentSize = 32 * 1024;

    // 32 KiB segments, pausing the socket reader once 32 KiB are buffered. Each receive fills at most one segment
    // (the rest of the last one, or a new one), so the segment size is the relay's read size: 16 KiB moved about
    // 5 Gbit/s through one connection on one core here, 32 KiB about 8.5 (HAProxy 7.3), 64 KiB no more. What a
    // stalled reader holds is what the relay's send is waiting on plus what was received meanwhile: with the pause
    // at one segment, a new segment is started only when the last is full, so at most two segments (64 KiB) per
    // direction, where a 1 MiB pause held 1 MiB plus a segment. The relay consumes all it reads once it is sent,
    // so a bulk transfer resumes the receive loop as each read is sent. Idle relays hold no segment at all
    // (zero-length reads). Continuations run where RelayScheduling says.
    public static readonly PipeOptions Options = CreateOptions(MemoryPool<byte>.Shared);

    /// <summary>The relay's pipe options over <paramref name="pool"/>; tests count what a relay holds through it.</summary>
    internal static PipeOptions CreateOptions(MemoryPool<byte> pool) => new(
        pool: pool,
        readerScheduler: RelayScheduling.PipeScheduler,
        writerScheduler: RelayScheduling.PipeScheduler,
        pauseWriterThreshold: SegmentSize,
        resumeWriterThreshold: SegmentSize / 2,
        minimumSegmentSize: SegmentSize,
        useSynchronizationContext: false);

    /// <summary>Wraps an accepted client socket in the pipe every relay attempt for it reads from.</summary>
    public static SocketConnection CreateClientPipe(Socket client) =>
        SocketConnection.Create(client, Options, SocketConnectionOptions.ZeroLengthReads, "client");

    /// <summary>Wraps a connected backend socket as a plain end.</summary>
    public static RelayEnd PlainBackend(Socket backend) =>
        new PlainEnd(SocketConnection.Create(backend, Options, SocketConnectionOptions.ZeroLengthReads, "backend"));
}
