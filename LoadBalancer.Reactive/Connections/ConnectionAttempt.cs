using System.Net.Sockets;
using System.Reactive.Concurrency;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Relaying;
using LoadBalancer.Reactive.Tls;
using LoadBalancer.Reactive.Transport;

namespace LoadBalancer.Reactive.Connections;

/// <summary>How connection attempts connect and relay: the balancer's clock and timeouts.</summary>
/// <param name="Scheduler">Times connects, handshakes and the idle timeout, and stamps the inputs.</param>
/// <param name="ConnectTimeout">How long a backend may take to accept (and finish its TLS handshake).</param>
/// <param name="IdleTimeout">How long a relay may carry no bytes; zero for never.</param>
internal sealed record AttemptSettings(IScheduler Scheduler, TimeSpan ConnectTimeout, TimeSpan IdleTimeout);

/// <summary>
/// One attempt to serve a connection on the backend the fold assigned it to, as an observable of what the fold must
/// hear: <see cref="ConnectFailed"/>, or <see cref="ConnectSucceeded"/> then, when the relay is over,
/// <see cref="ConnectionEnded"/> with its bytes and how it ended. It never fails: every fault becomes one of
/// those inputs. Disposing it before it has ended cuts the connection (disposing it after, as Merge does once
/// it completes, changes nothing: a failed connect leaves the client open for the next attempt).
/// </summary>
internal sealed class ConnectionAttempt(ClientConnection connection, BackendDefinition backend, AttemptSettings settings)
    : IObservable<BalancerInput>, IDisposable, IRelayEndObserver
{
    private int _ended;
    // Set once the backend is connected, for when the relay ends (see RelayEnded).
    private IObserver<BalancerInput>? _observer;
    private TimeSpan _connectTime;

    public IDisposable Subscribe(IObserver<BalancerInput> observer)
    {
        _ = RunAsync(observer);
        return this;
    }

    public void Dispose()
    {
        if (Volatile.Read(ref _ended) == 0)
        {
            connection.Abort();
        }
    }

    private async Task RunAsync(IObserver<BalancerInput> observer)
    {
        var scheduler = settings.Scheduler;
        var connecting = scheduler.Now;
        Socket? socket = null;
        RelayEnd backendEnd;
        try
        {
            (socket, var error) = await BackendConnector.TryConnectAsync(backend.EndPoint, settings.ConnectTimeout, scheduler, connection.Aborted).ConfigureAwait(false);
            if (socket is null)
            {
                // A refused or timed-out connect is everyday news, reported without an exception thrown for it.
                ConnectFailedOrStopping(observer, error);
                return;
            }

            if (backend.SendProxy != ProxyProtocolVersion.None)
            {
                await SendProxyHeaderAsync(socket).ConfigureAwait(false);
            }

            backendEnd = backend.Tls is { } tls
                ? await BackendTls.ConnectAsync(socket, tls, backend.Address, settings.ConnectTimeout, scheduler, connection.Aborted).ConfigureAwait(false)
                : SocketPipes.PlainBackend(socket);
        }
        catch (Exception exception)
        {
            socket?.Dispose();
            if (exception is SocketException failed)
            {
                // Sending the PROXY header failed: as a refused connect.
                ConnectFailedOrStopping(observer, failed.SocketErrorCode);
            }
            else if (exception is BackendTlsException && !connection.Aborted.IsCancellationRequested)
            {
                Complete(observer, new ConnectFailed(connection.Id) { Time = scheduler.Now, Detail = new FailureDetail(SocketError.SocketError, exception.Message) });
            }
            else if (connection.Aborted.IsCancellationRequested)
            {
                ConnectFailedOrStopping(observer, SocketError.OperationAborted);
            }
            else
            {
                EndUnrelayed(observer, stopping: false, new FailureDetail(
                    SocketError.SocketError, $"Connecting to backend {backend.Address} failed unexpectedly: {exception.Message}"));
            }

            return;
        }

        _connectTime = scheduler.Now - connecting;
        _observer = observer;
        observer.OnNext(new ConnectSucceeded(connection.Id, _connectTime) { Time = scheduler.Now });
        try
        {
            connection.Relay(backendEnd, scheduler, settings.IdleTimeout, this);
        }
        catch (Exception exception)
        {
            // Nothing in starting a relay should throw; if something does, the connection still ends in the fold, or
            // its backend's count would stay up for good.
            backendEnd.Reset();
            EndUnrelayed(observer, stopping: false, new FailureDetail(
                SocketError.SocketError, $"Relaying to backend {backend.Address} failed unexpectedly: {exception.Message}"));
        }
    }

    // A connect that failed (the client stays open while the fold picks another backend or gives up: nothing has been
    // read from it yet, so a retry is invisible to it), or one cut short because the balancer is stopping.
    private void ConnectFailedOrStopping(IObserver<BalancerInput> observer, SocketError error)
    {
        if (connection.Aborted.IsCancellationRequested)
        {
            EndUnrelayed(observer, stopping: true, new FailureDetail(
                SocketError.OperationAborted, $"Connecting to backend {backend.Address} was cut short: the balancer is stopping"));
            return;
        }

        // The message is the one a SocketException carries (the system's text for the error), built without throwing it.
        var detail = new FailureDetail(error, $"Cannot connect to backend {backend.Address}: {new SocketException((int)error).Message}");
        Complete(observer, new ConnectFailed(connection.Id) { Time = settings.Scheduler.Now, Detail = detail });
    }

    // The relay reports its end here rather than to an awaiting method, so that once it runs, RunAsync's state machine is
    // gone and nothing waits on it: every open connection holds only the relay, its two pumps, and this attempt.
    void IRelayEndObserver.RelayEnded(RelayResult result)
    {
        var observer = _observer!;
        if (result.Unexpected is { } exception)
        {
            // Nothing in a relay should throw; if something did, the relay was cut and the connection still ends in
            // the fold, or its backend's count would stay up for good.
            EndUnrelayed(observer, stopping: false, new FailureDetail(
                SocketError.SocketError, $"Relaying to backend {backend.Address} failed unexpectedly: {exception.Message}"));
            return;
        }

        if (result.Retriable)
        {
            connection.ReadyForRetry();
        }

        BalancerInput ended = result.Retriable
            // Accepted by the kernel but reset before a byte either way (its listener closed with us in the
            // queue): nothing happened, so the fold may try another backend.
            ? new ConnectFailed(connection.Id)
            {
                Detail = new FailureDetail(SocketError.ConnectionReset, $"Backend {backend.Address} reset the connection before any byte was exchanged"),
            }
            // A backend that resets before saying anything is failing, whatever it did at connect time.
            : new ConnectionEnded(connection.Id, BackendFailed: result.Reason == CompletionReason.BackendReset && result.BytesFromBackend == 0)
            {
                BytesFromClient = result.BytesFromClient,
                BytesFromBackend = result.BytesFromBackend,
                Reason = result.Reason,
                ConnectTime = _connectTime,
            };
        Complete(observer, ended with { Time = settings.Scheduler.Now });
    }

    private void EndUnrelayed(IObserver<BalancerInput> observer, bool stopping, FailureDetail failure)
    {
        connection.CloseClient();
        Complete(observer, new ConnectionEnded(connection.Id)
        {
            Time = settings.Scheduler.Now,
            Reason = stopping ? CompletionReason.Aborted : CompletionReason.BackendReset,
            NeverRelayed = failure,
        });
    }

    private void Complete(IObserver<BalancerInput> observer, BalancerInput last)
    {
        Volatile.Write(ref _ended, 1);
        observer.OnNext(last);
        observer.OnCompleted();
    }

    // The header goes before any client byte; a backend that fails to take it counts as a failed connect.
    private async Task SendProxyHeaderAsync(Socket socket)
    {
        try
        {
            var header = ProxyHeaderWriter.Write(backend.SendProxy, connection.ClientEndPoint, connection.Destination);
            await socket.SendAsync(header, SocketFlags.None, connection.Aborted).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
