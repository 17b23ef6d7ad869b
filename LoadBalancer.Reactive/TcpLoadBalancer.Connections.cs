using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Connections;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Preface;
using LoadBalancer.Reactive.Testing;
using LoadBalancer.Reactive.Tls;
using LoadBalancer.Reactive.Transport;

namespace LoadBalancer.Reactive;

// The life of one connection: accepted → arrived in the fold → assigned or rejected → connected and
// relayed (or failed) → released back into the fold → completed.
public sealed partial class TcpLoadBalancer
{
    private readonly ConcurrentDictionary<long, ClientConnection> _connections = new();
    private readonly System.Collections.Immutable.ImmutableArray<IPNetwork> _trustedProxies;
    private readonly TlsTermination? _termination;
    private long _nextConnectionId;
    private int _live;
    private int _finishedWhileStopping;
    private int _abortedWhileStopping;

    private void OnAccepted(Socket listener, string listenerName, Socket client)
    {
        ClientConnection connection;
        lock (_gate)
        {
            if (_stopping)
            {
                client.Dispose();
                return;
            }

            // Registered under the same lock that sets _stopping, so a stop that aborts every
            // registered connection cannot miss one accepted at that moment.
            connection = new ClientConnection(Interlocked.Increment(ref _nextConnectionId), client, _scheduler.Now)
            {
                Listener = listenerName,
            };
            _connections[connection.Id] = connection;
            Interlocked.Increment(ref _live);
        }

        var listenerEndPoint = SafeLocalEndPoint(listener);
        try
        {
            client.NoDelay = true;
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            // The client is already gone (reset before we got to it); the fold still decides and the
            // relay then fails and releases, which keeps every count in one place.
        }

        var fromProxy = FromTrustedProxy(connection.PeerEndPoint);
        if (fromProxy || _options.FirstByteTimeout > TimeSpan.Zero || _policy.Router is not null || _termination is not null)
        {
            _ = ArriveAfterPrefaceAsync(connection, listenerEndPoint, fromProxy);
            return;
        }

        Publish(new ConnectionAccepted(connection.Id, connection.ClientEndPoint, listenerEndPoint));
        Arrive(connection);
    }

    private void Arrive(ClientConnection connection) =>
        _feed.OnNext(new ConnectionArrived(connection.Id, connection.ClientEndPoint)
        {
            Time = connection.AcceptedAt,
            ServerName = connection.ServerName,
            Listener = connection.Listener,
        });

    private bool FromTrustedProxy(EndPoint peer)
    {
        if (_trustedProxies.IsEmpty || peer is not IPEndPoint endPoint)
        {
            return false;
        }

        var address = NetworkParser.Normalize(endPoint.Address);
        return _trustedProxies.Any(network => network.Contains(address));
    }

    // What comes before the fold sees a connection, read through the client's pipe (so every byte not
    // consumed stays there for the relay): a trusted proxy's PROXY header naming the real client, so access
    // rules, per-client limits and source hashing all use it; the first byte, if a timeout is set; and the
    // TLS ClientHello's server name, peeked at untouched, when connections are routed by it.
    private async Task ArriveAfterPrefaceAsync(ClientConnection connection, EndPoint listenerEndPoint, bool fromProxy)
    {
        var refusal = await ReadPrefaceAsync(connection, fromProxy).ConfigureAwait(false);
        Publish(new ConnectionAccepted(connection.Id, connection.ClientEndPoint, listenerEndPoint)
        {
            ProxiedBy = connection.ClientEndPoint.Equals(connection.PeerEndPoint) ? null : connection.PeerEndPoint,
            ServerName = connection.ServerName,
        });
        if (refusal is { } reason)
        {
            RefuseBeforeTheFold(connection, reason);
            return;
        }

        Arrive(connection);
    }

    private async Task<RejectionReason?> ReadPrefaceAsync(ClientConnection connection, bool fromProxy)
    {
        if (fromProxy)
        {
            var (header, error) = await ProxyHeaderReader.ReadAsync(
                connection.Input, _options.AcceptProxy.HeaderTimeout, _scheduler, connection.Aborted).ConfigureAwait(false);
            if (header is null)
            {
                Log.InvalidPreface(_logger, connection.PeerEndPoint, "PROXY header", error!);
                return RejectionReason.InvalidProxyHeader;
            }

            if (header.Source is { } source)
            {
                connection.ClientEndPoint = source;
                connection.Destination = header.Destination;
            }
        }

        if (_options.FirstByteTimeout > TimeSpan.Zero
            && await FirstByte.WaitAsync(connection.Input, connection.ArrivedUnread, _options.FirstByteTimeout, _scheduler, connection.Aborted).ConfigureAwait(false) is not null)
        {
            return RejectionReason.FirstByteTimeout;
        }

        if (_termination is not null)
        {
            var (end, serverName, error) = await _termination.AcceptAsync(connection, _scheduler).ConfigureAwait(false);
            if (end is null)
            {
                Log.InvalidPreface(_logger, connection.ClientEndPoint, "TLS handshake", error!);
                return RejectionReason.TlsHandshakeFailed;
            }

            connection.End = end;
            connection.ServerName = serverName;
        }
        else if (_policy.Router is not null)
        {
            var (hello, error) = await ClientHelloReader.PeekAsync(
                connection.Input, _options.Sni.HelloTimeout, _scheduler, connection.Aborted).ConfigureAwait(false);
            if (hello is null)
            {
                Log.InvalidPreface(_logger, connection.ClientEndPoint, "TLS ClientHello", error!);
                return RejectionReason.InvalidClientHello;
            }

            connection.ServerName = hello.ServerName;
        }

        return null;
    }

    // Not the fold's decision (it never saw the connection), but reported the same way as its refusals.
    private void RefuseBeforeTheFold(ClientConnection connection, RejectionReason reason)
    {
        if (_connections.TryRemove(connection.Id, out _))
        {
            Publish(new ConnectionRejected(connection.Id, connection.ClientEndPoint, reason));
            connection.CloseClient();
            Finish(connection);
        }
    }

    private void OnAcceptFailed(Socket listener, SocketException error)
    {
        var endPoint = SafeLocalEndPoint(listener);
        Publish(new AcceptFailed(endPoint, error.SocketErrorCode, error.Message));
    }

    private void OnAcceptedSafely(Socket listener, string listenerName, Socket client)
    {
        try
        {
            OnAccepted(listener, listenerName, client);
        }
        catch (Exception exception)
        {
            // Nothing above should throw, but one client must never end the accept loop.
            client.Dispose();
            Publish(new AcceptFailed(SafeLocalEndPoint(listener), SocketError.SocketError, exception.Message));
        }
    }

    // Runs inside the fold's serialized stream: one step at a time, never reentrantly. Everything here
    // only starts work (connecting and relaying are asynchronous) so the fold moves on at once.
    private void OnStep(Step step)
    {
        _state = step.State;
        switch (step.Decision)
        {
            case Assignment assignment:
                Start(assignment);
                break;

            case Queued queued:
                // The client waits, unread, until the fold places it or its queue timeout rejects it.
                Publish(new ConnectionQueued(queued.ConnectionId, queued.Position, queued.Reason));
                break;

            case Rejection rejection when _connections.TryRemove(rejection.ConnectionId, out var connection):
                Publish(new ConnectionRejected(connection.Id, connection.ClientEndPoint, rejection.Reason));
                connection.CloseClient();
                Finish(connection);
                break;

            case GiveUp failure when _connections.TryRemove(failure.ConnectionId, out var connection):
                var last = connection.Failure ?? new RelayFailure(SocketError.SocketError, "No backend could be tried.");
                Publish(new ConnectionFailed(
                    connection.Id, failure.Backend.Address, last.Error, last.Message, failure.Backend.ActiveConnections, failure.Attempts));
                connection.CloseClient();
                Finish(connection);
                break;

            case Release release when _connections.TryRemove(release.ConnectionId, out var connection):
                PublishOutcome(connection, release.Backend);
                Finish(connection);
                break;
        }

        foreach (var change in step.Changes)
        {
            if (change is MembershipChange membership)
            {
                OnMembershipChange(membership);
                continue;
            }

            if (change is SlowStartStep)
            {
                // Timed by ScheduleTimers below; hosts see the ramp in the snapshot.
                continue;
            }

            LoadBalancerEvent? published = change switch
            {
                HealthChange health => new BackendHealthChanged(health.Backend.Address, health.Backend.Healthy),
                Ejection ejection => new BackendEjected(ejection.Backend.Address, ejection.Duration, ejection.Backend.Ejections),
                EjectionEnded end => new BackendEjectionEnded(end.Backend.Address, end.ByProbe),
                _ => null,
            };
            if (published is not null)
            {
                Publish(published);
            }
        }

        foreach (var placed in step.FromQueue)
        {
            Start(placed);
        }

        BalancingFold.ScheduleTimers(step, _options, _scheduler, _feed, _timers);
    }

    private void Start(Assignment assignment)
    {
        if (!_connections.TryGetValue(assignment.ConnectionId, out var connection))
        {
            // Cannot happen (connections are registered before they arrive), but if it did the
            // backend's count must not stay up for a connection nobody will relay.
            _feed.OnNext(new ConnectionEnded(assignment.ConnectionId));
            return;
        }

        Publish(new ConnectionAssigned(connection.Id, assignment.Backend.Address, assignment.Backend.ActiveConnections, assignment.Attempt));
        connection.Backend = assignment.Backend;
        _ = ConnectAndRelayAsync(connection, assignment);
    }

    private async Task ConnectAndRelayAsync(ClientConnection connection, Assignment assignment)
    {
        var backend = assignment.Backend;
        Socket? backendSocket = null;
        RelayEnd backendEnd;
        var connecting = _scheduler.Now;
        try
        {
            backendSocket = await BackendConnector.ConnectAsync(
                backend.EndPoint, _options.ConnectTimeout, _scheduler, connection.Aborted).ConfigureAwait(false);
            if (backend.SendProxy != ProxyProtocolVersion.None)
            {
                await SendProxyHeaderAsync(backendSocket, backend.SendProxy, connection).ConfigureAwait(false);
            }

            backendEnd = backend.Tls is { } tls
                ? await BackendTls.ConnectAsync(backendSocket, tls, backend.Address, _options.ConnectTimeout, _scheduler, connection.Aborted).ConfigureAwait(false)
                : SocketPipes.PlainBackend(backendSocket);
        }
        catch (Exception exception) when ((exception is SocketException or BackendTlsException) && !connection.Aborted.IsCancellationRequested)
        {
            // The client stays open while the fold picks another backend (or gives up): nothing has
            // been read from it yet, so a retry is invisible to it.
            backendSocket?.Dispose();
            connection.Failure = exception is SocketException socketError
                ? new RelayFailure(socketError.SocketErrorCode, $"Cannot connect to backend {backend.Address}: {socketError.Message}")
                : new RelayFailure(SocketError.SocketError, exception.Message);
            Publish(new ConnectAttemptFailed(connection.Id, backend.Address, connection.Failure.Error, connection.Failure.Message, assignment.Attempt));
            _feed.OnNext(new ConnectFailed(connection.Id));
            return;
        }
        catch (Exception exception)
        {
            backendSocket?.Dispose();
            var stopping = connection.Aborted.IsCancellationRequested;
            EndUnrelayed(connection, new RelayFailure(
                stopping ? SocketError.OperationAborted : SocketError.SocketError,
                stopping
                    ? $"Connecting to backend {backend.Address} was cut short: the balancer is stopping"
                    : $"Connecting to backend {backend.Address} failed unexpectedly: {exception.Message}"));
            return;
        }

        Publish(new BackendConnected(connection.Id, backend.Address, _scheduler.Now - connecting));
        _ = RelayAsync(connection, backend, backendEnd, assignment.Attempt);
    }

    // Apart from ConnectAndRelayAsync so that the state machine every open connection holds while its
    // relay runs keeps only what the end of the relay needs.
    private async Task RelayAsync(ClientConnection connection, BackendSnapshot backend, RelayEnd backendEnd, int attempt)
    {
        try
        {
            var result = await connection.Relay(backendEnd, _scheduler, _options.IdleTimeout).ConfigureAwait(false);
            if (result.Retriable)
            {
                // Accepted by the kernel but reset before a byte either way (its listener closed with
                // us in the queue): nothing happened, so the fold may try another backend.
                connection.Failure = new RelayFailure(
                    SocketError.ConnectionReset, $"Backend {backend.Address} reset the connection before any byte was exchanged");
                Publish(new ConnectAttemptFailed(connection.Id, backend.Address, SocketError.ConnectionReset, connection.Failure.Message, attempt));
                _feed.OnNext(new ConnectFailed(connection.Id));
                return;
            }

            connection.Result = result;
            connection.Failure = null;

            // A backend that resets before saying anything is failing, whatever it did at connect time.
            var backendFailed = result.Reason == CompletionReason.BackendReset && result.BytesFromBackend == 0;
            _feed.OnNext(new ConnectionEnded(connection.Id, backendFailed));
        }
        catch (Exception exception)
        {
            // Nothing above should throw; if something does, the connection still has to be released
            // or its backend's count would stay up for good.
            EndUnrelayed(connection, new RelayFailure(
                SocketError.SocketError, $"Relaying to backend {backend.Address} failed unexpectedly: {exception.Message}"));
        }
    }

    // The header goes before any client byte; a backend that fails to take it counts as a failed connect.
    private static async Task SendProxyHeaderAsync(Socket backend, ProxyProtocolVersion version, ClientConnection connection)
    {
        try
        {
            var header = ProxyHeaderWriter.Write(version, connection.ClientEndPoint, connection.Destination);
            await backend.SendAsync(header, SocketFlags.None, connection.Aborted).ConfigureAwait(false);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    private void EndUnrelayed(ClientConnection connection, RelayFailure failure)
    {
        connection.Failure = failure;
        connection.CloseClient();
        _feed.OnNext(new ConnectionEnded(connection.Id));
    }

    private void PublishOutcome(ClientConnection connection, BackendSnapshot backend)
    {
        if (connection.Failure is { } failure)
        {
            Publish(new ConnectionFailed(connection.Id, backend.Address, failure.Error, failure.Message, backend.ActiveConnections));
            return;
        }

        var result = connection.Result;
        Publish(new ConnectionCompleted(
            connection.Id, backend.Address, result.BytesFromClient, result.BytesFromBackend,
            _scheduler.Now - connection.AcceptedAt, result.Reason, backend.ActiveConnections));
    }

    // Every connection that ends while stopping is counted once: aborted if the deadline cut it (even
    // mid-connect, when it ends as a failure), else finished by itself.
    private void Finish(ClientConnection connection)
    {
        if (_stopping)
        {
            var aborted = connection.IsAborted
                || (connection.Failure is null && connection.Result.Reason == CompletionReason.Aborted);
            if (aborted)
            {
                Interlocked.Increment(ref _abortedWhileStopping);
            }
            else
            {
                Interlocked.Increment(ref _finishedWhileStopping);
            }
        }

        if (Interlocked.Decrement(ref _live) == 0 && _stopping)
        {
            _idle.TrySetResult();
        }
    }

    private void AbortAll()
    {
        foreach (var connection in _connections.Values)
        {
            connection.Abort();
        }
    }

    private static EndPoint SafeLocalEndPoint(Socket socket)
    {
        try
        {
            return socket.LocalEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        }
        catch (ObjectDisposedException)
        {
            return new IPEndPoint(IPAddress.None, 0);
        }
    }
}
