using System.Net;
using System.Net.Sockets;
using System.Reactive.Concurrency;

namespace LoadBalancer.Reactive.Transport;

/// <summary>Opens the connection to a backend, with a timeout on the balancer's scheduler.</summary>
internal static class BackendConnector
{
    /// <summary>Connects to <paramref name="endPoint"/> or throws a <see cref="SocketException"/>.</summary>
    /// <exception cref="SocketException">The connect failed; <see cref="SocketError.TimedOut"/> when the timeout passed first.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<Socket> ConnectAsync(
        EndPoint endPoint, TimeSpan timeout, IScheduler scheduler, CancellationToken cancellationToken)
    {
        // The socket is ours from the start: a failed connect must not leak it, so it is created
        // here rather than inside a library helper.
        var socket = endPoint is DnsEndPoint
            ? new Socket(SocketType.Stream, ProtocolType.Tcp)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.NoDelay = true;

        using var deadline = new Deadline(timeout, scheduler, cancellationToken);
        try
        {
            await socket.ConnectAsync(endPoint, deadline.Token).ConfigureAwait(false);
            return socket;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new SocketException((int)SocketError.TimedOut);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
