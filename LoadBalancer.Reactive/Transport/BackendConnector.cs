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
    /// <summary>
    /// Connects to <paramref name="endPoint"/>; a failed connect is a result, not an exception, because a refused
    /// or unreachable backend is an everyday event on the connection path.
    /// </summary>
    /// <returns>
    /// The connected socket, or none and why: <see cref="SocketError.TimedOut"/> when the timeout passed first,
    /// <see cref="SocketError.OperationAborted"/> when <paramref name="cancellationToken"/> was cancelled.
    /// </returns>
    public static async Task<(Socket? Socket, SocketError Error)> TryConnectAsync(
        EndPoint endPoint, TimeSpan timeout, IScheduler scheduler, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return (null, SocketError.OperationAborted);
        }

        // The socket is ours from the start: a failed connect must not leak it, so it is created
        // here rather than inside a library helper.
        var socket = endPoint is DnsEndPoint
            ? new Socket(SocketType.Stream, ProtocolType.Tcp)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.NoDelay = true;

        SocketError error;
        using (var deadline = new Deadline(timeout, scheduler, cancellationToken))
        using (var connect = new ConnectOperation(endPoint))
        {
            error = await connect.RunAsync(socket, deadline.Token).ConfigureAwait(false);
        }

        if (error == SocketError.Success)
        {
            return (socket, error);
        }

        socket.Dispose();
        return (null, error == SocketError.OperationAborted && !cancellationToken.IsCancellationRequested ? SocketError.TimedOut : error);
    }

    // One connect through SocketAsyncEventArgs, whose result is a SocketError to look at: the task-based ConnectAsync
    // throws a failure and rethrows it at every await it passes (three first-chance exceptions per refused connect).
    // The args are disposed when the connect is over, so the socket does not keep them for its life as it keeps the
    // ones its own ConnectAsync uses.
    private sealed class ConnectOperation : SocketAsyncEventArgs
    {
        private readonly TaskCompletionSource<SocketError> _completed = new();

        public ConnectOperation(EndPoint endPoint) => RemoteEndPoint = endPoint;

        public async Task<SocketError> RunAsync(Socket socket, CancellationToken cancellationToken)
        {
            if (!socket.ConnectAsync(this))
            {
                return SocketError;
            }

            // Cancelling closes the socket under the connect, which then completes with OperationAborted.
            using (cancellationToken.UnsafeRegister(static state => Socket.CancelConnectAsync((ConnectOperation)state!), this))
            {
                return await _completed.Task.ConfigureAwait(false);
            }
        }

        protected override void OnCompleted(SocketAsyncEventArgs e) => _completed.TrySetResult(e.SocketError);
    }
}
