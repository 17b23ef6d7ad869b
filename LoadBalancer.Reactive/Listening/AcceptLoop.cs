using System.Net.Sockets;
using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;

namespace LoadBalancer.Reactive.Listening;

/// <summary>
/// Incoming connections as an <see cref="IObservable{T}"/>: each subscription runs one accept loop over
/// a listening socket. Disposing the subscription (or the socket) ends the loop.
/// </summary>
internal static class AcceptLoop
{
    private static readonly TimeSpan s_firstPause = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan s_longestPause = TimeSpan.FromSeconds(1);

    /// <param name="listener">A bound, listening socket.</param>
    /// <param name="scheduler">Times the pauses after failures.</param>
    /// <param name="onError">Told about each failed accept; the loop pauses and carries on.</param>
    public static IObservable<Socket> Observe(Socket listener, IScheduler scheduler, Action<SocketException> onError) =>
        Observe(listener.AcceptAsync, scheduler, onError);

    /// <summary>
    /// The same loop over any accept operation. The listener's own overload passes <see cref="Socket.AcceptAsync(CancellationToken)"/>;
    /// tests pass a scripted one, so failures, back-off and stopping run on virtual time without a socket.
    /// </summary>
    /// <param name="accept">Waits for the next client; cancelled when the subscription is disposed.</param>
    /// <param name="scheduler">Times the pauses after failures.</param>
    /// <param name="onError">Told about each failed accept; the loop pauses and carries on.</param>
    internal static IObservable<T> Observe<T>(Func<CancellationToken, ValueTask<T>> accept, IScheduler scheduler, Action<SocketException> onError) =>
        Observable.Create<T>((observer, cancellationToken) =>
            RunAsync(accept, observer, scheduler, onError, cancellationToken));

    private static async Task RunAsync<T>(
        Func<CancellationToken, ValueTask<T>> accept, IObserver<T> observer, IScheduler scheduler, Action<SocketException> onError,
        CancellationToken cancellationToken)
    {
        var pause = s_firstPause;
        while (!cancellationToken.IsCancellationRequested)
        {
            T client;
            try
            {
                client = await accept(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (IsStop(exception, cancellationToken))
            {
                return;
            }
            catch (SocketException exception)
            {
                // One client's fault (a reset before accept) or a resource limit (out of file
                // descriptors) must not end the loop; pause so a persistent error does not spin a core.
                onError(exception);
                try
                {
                    await Observable.Timer(pause, scheduler).ToTask(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                pause = pause * 2 < s_longestPause ? pause * 2 : s_longestPause;
                continue;
            }

            pause = s_firstPause;
            observer.OnNext(client);
        }
    }

    private static bool IsStop(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        OperationCanceledException => true,
        ObjectDisposedException => true,
        SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Interrupted } => true,
        SocketException when cancellationToken.IsCancellationRequested => true,
        _ => false,
    };
}
