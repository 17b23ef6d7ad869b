using System.Net;
using System.Net.Sockets;
using System.Reactive.Concurrency;
using System.Reactive.Linq;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Listening;
using LoadBalancer.Reactive.Preface;
using Microsoft.Extensions.Logging;

namespace LoadBalancer.Reactive.Connections;

/// <summary>
/// Turns each accepted client into the fold's <see cref="ConnectionArrived"/>: it is registered, and what comes
/// before balancing is read through its pipe (so every byte not consumed stays there for the relay): a trusted
/// proxy's PROXY header naming the real client, the first byte if a timeout is set, the TLS handshake when
/// terminating or the ClientHello's server name when routing by it. A client whose preface fails arrives with
/// the refusal, for the fold to reject like any other.
/// </summary>
internal sealed partial class Arrivals(BalancerModel model, ConnectionRegistry registry, IScheduler scheduler, ILogger logger)
{
    private readonly LoadBalancerOptions _options = model.Options;
    private readonly bool _routesByServerName = model.Options.Sni.Routes.Count > 0;
    private long _nextId;

    /// <summary>
    /// The arrivals of every client a listener accepts. The accept loop pauses and retries on socket errors, each
    /// reported as <see cref="AcceptFailed"/>; anything else ends this listener's loop, reported the same way, while
    /// the other listeners and every open connection carry on.
    /// </summary>
    /// <param name="listener">The bound, listening socket.</param>
    /// <param name="name">Its name, as written in Listen.</param>
    /// <param name="endPoint">Its endpoint, as bound (read once: the socket may be closed when a failure is reported).</param>
    /// <param name="report">Posts what hosts are told into the fold.</param>
    public IObservable<BalancerInput> From(Socket listener, string name, IPEndPoint endPoint, Action<BalancerInput> report) =>
        AcceptLoop.Observe(listener, scheduler, error => report(new Reported(new AcceptFailed(endPoint, error.SocketErrorCode, error.Message))))
            .Catch((Exception error) =>
            {
                report(new Reported(new AcceptFailed(endPoint, SocketError.SocketError, $"{error.Message}; this listener stopped accepting")));
                return Observable.Empty<Socket>();
            })
            .SelectMany(client => Arrive(name, endPoint, client));

    /// <summary>
    /// The arrival of one accepted client: at once, or once its preface is read; nothing if the balancer is
    /// stopping. One client's fault never ends the stream of arrivals: it is reported as an <see cref="AcceptFailed"/>.
    /// </summary>
    /// <param name="listener">The listener's name, as written in Listen.</param>
    /// <param name="listenerEndPoint">The listener's endpoint, as bound.</param>
    /// <param name="client">The accepted socket.</param>
    public IObservable<BalancerInput> Arrive(string listener, EndPoint listenerEndPoint, Socket client)
    {
        ClientConnection connection;
        try
        {
            connection = new ClientConnection(Interlocked.Increment(ref _nextId), client, scheduler.Now)
            {
                Listener = listener,
                ListenerEndPoint = listenerEndPoint,
            };
        }
        catch (Exception exception)
        {
            client.Dispose();
            var error = exception is SocketException socket ? socket.SocketErrorCode : SocketError.SocketError;
            return Observable.Return<BalancerInput>(new Reported(new AcceptFailed(listenerEndPoint, error, exception.Message)) { Time = scheduler.Now });
        }

        if (!registry.TryAdd(connection))
        {
            client.Dispose();
            return Observable.Empty<BalancerInput>();
        }

        try
        {
            client.NoDelay = true;
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            // The client is already gone (reset before we got to it); the fold still decides, and the relay
            // then fails and ends it, which keeps every count in one place.
        }

        var fromProxy = FromTrustedProxy(connection.PeerEndPoint);
        return fromProxy || _options.FirstByteTimeout > TimeSpan.Zero || _routesByServerName || model.Termination is not null
            ? Observable.FromAsync<BalancerInput>(async () => await ArriveAfterPrefaceAsync(connection, fromProxy).ConfigureAwait(false))
            : Observable.Return<BalancerInput>(Arrival(connection, refusal: null));
    }

    private ConnectionArrived Arrival(ClientConnection connection, RejectionReason? refusal) =>
        new(connection.Id, connection.ClientEndPoint)
        {
            // It happens now (after its preface, if it had one); its duration and rate count from the accept.
            Time = scheduler.Now,
            AcceptedAt = connection.AcceptedAt,
            ServerName = connection.ServerName,
            Listener = connection.Listener,
            ListenerEndPoint = connection.ListenerEndPoint,
            ProxiedBy = connection.ClientEndPoint.Equals(connection.PeerEndPoint) ? null : connection.PeerEndPoint,
            Rejected = refusal,
            Aborted = refusal is not null && connection.IsAborted,
        };

    private bool FromTrustedProxy(EndPoint peer)
    {
        if (model.TrustedProxies.IsEmpty || peer is not IPEndPoint endPoint)
        {
            return false;
        }

        var address = NetworkParser.Normalize(endPoint.Address);
        return model.TrustedProxies.Any(network => network.Contains(address));
    }

    // The readers report what a client sends as errors and do not throw; should one throw anyway, the client is
    // refused (by the last stage it could have reached) rather than left open and uncounted.
    private async Task<ConnectionArrived> ArriveAfterPrefaceAsync(ClientConnection connection, bool fromProxy)
    {
        RejectionReason? refusal;
        try
        {
            refusal = await ReadPrefaceAsync(connection, fromProxy).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            LogInvalidPreface(logger, connection.PeerEndPoint, "preface", exception.Message);
            refusal = model.Termination is not null ? RejectionReason.TlsHandshakeFailed
                : _routesByServerName ? RejectionReason.InvalidClientHello
                : fromProxy ? RejectionReason.InvalidProxyHeader
                : RejectionReason.FirstByteTimeout;
        }

        return Arrival(connection, refusal);
    }

    private async Task<RejectionReason?> ReadPrefaceAsync(ClientConnection connection, bool fromProxy)
    {
        if (fromProxy)
        {
            var (header, error) = await ProxyHeaderReader.ReadAsync(
                connection.Input, _options.AcceptProxy.HeaderTimeout, scheduler, connection.Aborted).ConfigureAwait(false);
            if (header is null)
            {
                LogInvalidPreface(logger, connection.PeerEndPoint, "PROXY header", error!);
                return RejectionReason.InvalidProxyHeader;
            }

            if (header.Source is { } source)
            {
                connection.ClientEndPoint = source;
                connection.Destination = header.Destination;
            }
        }

        if (_options.FirstByteTimeout > TimeSpan.Zero
            && await FirstByte.WaitAsync(connection.Input, connection.ArrivedUnread, _options.FirstByteTimeout, scheduler, connection.Aborted).ConfigureAwait(false) is not null)
        {
            return RejectionReason.FirstByteTimeout;
        }

        if (model.Termination is { } termination)
        {
            var (end, serverName, error) = await termination.AcceptAsync(connection.Pipe(), scheduler, connection.Aborted).ConfigureAwait(false);
            if (end is null)
            {
                LogInvalidPreface(logger, connection.ClientEndPoint, "TLS handshake", error!);
                return RejectionReason.TlsHandshakeFailed;
            }

            connection.End = end;
            connection.ServerName = serverName;
        }
        else if (_routesByServerName)
        {
            var (hello, error) = await ClientHelloReader.PeekAsync(
                connection.Input, _options.Sni.HelloTimeout, scheduler, connection.Aborted).ConfigureAwait(false);
            if (hello is null)
            {
                LogInvalidPreface(logger, connection.ClientEndPoint, "TLS ClientHello", error!);
                return RejectionReason.InvalidClientHello;
            }

            connection.ServerName = hello.ServerName;
        }

        return null;
    }

    // Per connection, so at Debug: the refusal it ends in is counted and logged by reason (see Diagnostics.BalancerLog).
    [LoggerMessage(24, LogLevel.Debug, "Connection from {Peer} closed for want of a valid {What}: {Error}")]
    private static partial void LogInvalidPreface(ILogger logger, EndPoint peer, string what, string error);
}
