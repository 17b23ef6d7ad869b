using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Pipelines.Sockets.Unofficial;

namespace LoadBalancer.Reactive.Transport;

/// <summary>
/// One end of a relay, as the relay sees it: bytes to read from it, a way to send it bytes (complete only
/// once they are with the kernel), a half-close, a reset, and closing. Plain TCP and TLS differ only here.
/// </summary>
internal abstract class RelayEnd
{
    /// <summary>What this end sends, to be relayed to the other.</summary>
    public abstract PipeReader Input { get; }

    /// <summary>Sends <paramref name="bytes"/> to this end; when it completes they are with the kernel.</summary>
    public abstract ValueTask SendAsync(ReadOnlyMemory<byte> bytes);

    /// <summary>Tells this end nothing more will come (a FIN; for TLS, close_notify first).</summary>
    public abstract ValueTask ShutdownSendAsync();

    /// <summary>
    /// Whether <see cref="Close"/> says all that <see cref="ShutdownSendAsync"/> would (a FIN), so a relay about
    /// to close this end anyway can skip the half-close. Not for TLS, whose half-close also sends close_notify.
    /// </summary>
    public virtual bool CloseSendsFin => false;

    /// <summary>An orderly close of both directions (idle timeout): this end gets a FIN and its reads end.</summary>
    public abstract void ShutdownBoth();

    /// <summary>Closes this end with a reset.</summary>
    public abstract void Reset();

    /// <summary>
    /// Readies a reset, because the other end of the relay reset: reads of this end stop (ending with the end of its
    /// input or failing), and <see cref="Reset"/> follows from the relay. By default that is the reset itself.
    /// </summary>
    public virtual void ShutdownReadsForReset() => Reset();

    /// <summary>Releases everything; after a reset or both half-closes.</summary>
    public abstract void Close();

    /// <summary>Shuts a socket down without caring whether it is already gone.</summary>
    protected static void ShutdownQuietly(Socket socket, SocketShutdown how)
    {
        try
        {
            socket.Shutdown(how);
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Dispose and Complete both end in a FIN; a reset needs linger zero and a close before that.</summary>
    protected static void ResetSocket(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(enable: true, seconds: 0);
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
        }

        socket.Close();
    }

    /// <summary>Sends every byte straight to the socket; when it completes they are with the kernel.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await socket.SendAsync(bytes, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            bytes = bytes[sent..];
        }
    }

    /// <summary>Ends a Pipelines.Sockets.Unofficial connection once the relay is done with it.</summary>
    /// <remarks>
    /// Closing the socket is all it takes: the kernel sends the FIN (or, after <see cref="ResetSocket"/>, has
    /// already sent the reset), and a receive still pending ends with an abort. The library's own Dispose
    /// would shut the socket down twice more first, both failing with ENOTCONN after the relay's half-closes,
    /// and completing its pipes would add two more: system calls that cost a short connection measurable CPU.
    /// Its receive loop has ended by now (end of stream, error, or that abort); its send loop was never started
    /// (see <see cref="SocketPipes"/>), so nothing of the connection is left running.
    /// </remarks>
    internal static void CloseConnection(SocketConnection connection) => connection.Socket.Dispose();
}

/// <summary>A plain TCP end: read through its pipe, written straight to its socket.</summary>
internal sealed class PlainEnd(SocketConnection connection) : RelayEnd
{
    public override PipeReader Input => connection.Input;

    public override ValueTask SendAsync(ReadOnlyMemory<byte> bytes) => SendAllAsync(connection.Socket, bytes);

    public override ValueTask ShutdownSendAsync()
    {
        connection.Socket.Shutdown(SocketShutdown.Send);
        return ValueTask.CompletedTask;
    }

    public override bool CloseSendsFin => true;

    public override void ShutdownBoth() => ShutdownQuietly(connection.Socket, SocketShutdown.Both);

    public override void Reset() => ResetSocket(connection.Socket);

    // Closing the socket under the pipe's pending receive would end it with an abort: a SocketException inside the
    // receive loop and a ConnectionAbortedException rethrown to the relay. A receive shutdown wakes that receive
    // with an end of stream instead; linger zero makes the close that follows a reset.
    public override void ShutdownReadsForReset()
    {
        try
        {
            connection.Socket.LingerState = new LingerOption(enable: true, seconds: 0);
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
        }

        ShutdownQuietly(connection.Socket, SocketShutdown.Receive);
    }

    public override void Close() => CloseConnection(connection);
}
