using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Pipelines.Sockets.Unofficial;

namespace LoadBalancer.Reactive.Transport;

/// <summary>The pipes relays read sockets through, and the relay ends made from them.</summary>
internal static class SocketPipes
{
    /// <summary>The relay's read size: each receive fills at most one segment.</summary>
    internal const int SegmentSize = 32 * 1024;

    /// <summary>How much a pipe buffers before its receive loop pauses (until half of it is sent).</summary>
    internal const int PauseThreshold = 1024 * 1024;

    // 32 KiB segments, pausing the socket reader at 1 MiB buffered. Each receive fills at most one segment (the
    // rest of the last one, or a new one), so the segment size is the relay's read size: 16 KiB moved about
    // 5 Gbit/s through one connection on one core here, 32 KiB about 8.5 (HAProxy 7.3), 64 KiB no more. A stalled
    // reader holds at most the pause threshold plus a segment per direction. Pausing at one segment would hold at
    // most 64 KiB, but the receive loop then waits for each read to be sent before the next, and one stream's bulk
    // throughput fell by 16% (interleaved A/B on a quiet machine, benchmarks/RESULTS.md). Idle relays hold no
    // segment at all (zero-length reads). Continuations run where RelayScheduling says.
    public static readonly PipeOptions Options = CreateOptions(MemoryPool<byte>.Shared);

    /// <summary>The relay's pipe options over <paramref name="pool"/>; tests count what a relay holds through it.</summary>
    internal static PipeOptions CreateOptions(MemoryPool<byte> pool) => new(
        pool: pool,
        readerScheduler: RelayScheduling.PipeScheduler,
        writerScheduler: RelayScheduling.PipeScheduler,
        pauseWriterThreshold: PauseThreshold,
        resumeWriterThreshold: PauseThreshold / 2,
        minimumSegmentSize: SegmentSize,
        useSynchronizationContext: false);

    // The send half of every connection: its loop is never started. Relays send straight to the socket (see
    // PlainEnd and TlsEnd) so that a send completes only once the bytes are with the kernel; the library's send loop
    // would sit parked on an empty pipe for the connection's whole life, holding its state machine and the
    // continuation that observes it (about 300 B per socket, 600 per relayed connection) and costing its start on
    // every connection. The library starts that loop through the send pipe's reader scheduler, so a scheduler that
    // runs nothing leaves it unstarted, and Wrap completes the Output nobody may write to.
    private static readonly PipeOptions SendLoopNotStarted = new(
        readerScheduler: NoSendLoop.Instance,
        writerScheduler: PipeScheduler.Inline,
        useSynchronizationContext: false);

    /// <summary>Wraps an accepted client socket in the pipe every relay attempt for it reads from.</summary>
    public static SocketConnection CreateClientPipe(Socket client) => Wrap(client, Options, "client");

    /// <summary>Wraps a connected backend socket as a plain end.</summary>
    public static RelayEnd PlainBackend(Socket backend) => new PlainEnd(Wrap(backend, Options, "backend"));

    /// <summary>
    /// A socket read through a pipe with <paramref name="receiveOptions"/>: zero-length reads while idle, and no send
    /// half (its loop is not started, and its writer is completed, so a write to it fails instead of vanishing).
    /// </summary>
    internal static SocketConnection Wrap(Socket socket, PipeOptions receiveOptions, string name)
    {
        var connection = SocketConnection.Create(socket, SendLoopNotStarted, receiveOptions, SocketConnectionOptions.ZeroLengthReads, name);
        connection.Output.Complete();
        return connection;
    }

    /// <summary>Runs nothing: the send loop it is asked to start is one the relay never needs.</summary>
    private sealed class NoSendLoop : PipeScheduler
    {
        public static readonly NoSendLoop Instance = new();

        public override void Schedule(Action<object?> action, object? state)
        {
        }
    }
}
