using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Pipelines.Sockets.Unofficial;

namespace LoadBalancer.Reactive.Transport;

/// <summary>The pipes relays read sockets through, and the relay ends made from them.</summary>
internal static class SocketPipes
{
    // 32 KiB segments, pausing the socket reader at 1 MiB buffered. Each receive fills at most one segment,
    // so the segment size is the relay's read size: 16 KiB moved about 5 Gbit/s through one connection on
    // one core here, 32 KiB about 8.5 (HAProxy 7.3), 64 KiB no more. Idle relays hold no segment at all
    // (zero-length reads), so the size costs memory only while bytes are in flight. Continuations run
    // where RelayScheduling says.
    public static readonly PipeOptions Options = new(
        pool: MemoryPool<byte>.Shared,
        readerScheduler: RelayScheduling.PipeScheduler,
        writerScheduler: RelayScheduling.PipeScheduler,
        pauseWriterThreshold: 1024 * 1024,
        resumeWriterThreshold: 512 * 1024,
        minimumSegmentSize: 32 * 1024,
        useSynchronizationContext: false);

    /// <summary>Wraps an accepted client socket in the pipe every relay attempt for it reads from.</summary>
    public static SocketConnection CreateClientPipe(Socket client) =>
        SocketConnection.Create(client, Options, SocketConnectionOptions.ZeroLengthReads, "client");

    /// <summary>Wraps a connected backend socket as a plain end.</summary>
    public static RelayEnd PlainBackend(Socket backend) =>
        new PlainEnd(SocketConnection.Create(backend, Options, SocketConnectionOptions.ZeroLengthReads, "backend"));
}
