using System.Net;
using System.Net.Sockets;
using LoadBalancer.Reactive.Relaying;
using LoadBalancer.Reactive.Transport;

namespace LoadBalancer.Reactive.Connections;

/// <summary>One accepted client connection, from accept to release: its socket, its pipe, and its relay.</summary>
internal sealed class ClientConnection(long id, Socket client, DateTimeOffset acceptedAt)
{
    private readonly Lock _gate = new();
    // Until a relay starts; then Abort goes to the relay, and the source (with whatever registered on it
    // while connecting) is left to the GC rather than held by every idle connection.
    private CancellationTokenSource? _abort = new();
    private Pipelines.Sockets.Unofficial.SocketConnection? _pipe;
    private RelayEnd? _end;
    private DuplexRelay? _relay;
    private bool _aborted;

    public long Id { get; } = id;

    public Socket Client { get; } = client;

    /// <summary>The peer that connected: the client itself, or a proxy in front of the balancer.</summary>
    public EndPoint PeerEndPoint { get; } = client.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0);

    /// <summary>The client as the balancer treats it: the peer, or the address a trusted PROXY header named.</summary>
    public EndPoint ClientEndPoint { get; set; } = client.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0);

    /// <summary>The server name from the client's TLS ClientHello, when connections are routed by it.</summary>
    public string? ServerName { get; set; }

    /// <summary>The listener it was accepted on, as written in the options' Listen.</summary>
    public string? Listener { get; init; }

    /// <summary>The listener's endpoint, as bound.</summary>
    public EndPoint? ListenerEndPoint { get; init; }

    /// <summary>What the client connected to: the listener, or the destination a trusted PROXY header named.</summary>
    public EndPoint? Destination { get; set; } = client.LocalEndPoint;

    /// <summary>
    /// The client's raw bytes, read through the pipe the relay later reads from (so nothing read early is
    /// lost): a PROXY header, a ClientHello, or the TLS a terminating end decrypts.
    /// </summary>
    public System.IO.Pipelines.PipeReader Input => Pipe().Input;

    /// <summary>Whether bytes have reached the socket that its pipe has not been given yet.</summary>
    public bool ArrivedUnread() => Client.Available > 0;

    /// <summary>The connection's socket and its pipe, for an end that terminates TLS over them.</summary>
    public Pipelines.Sockets.Unofficial.SocketConnection Pipe()
    {
        lock (_gate)
        {
            return _pipe ??= SocketPipes.CreateClientPipe(Client);
        }
    }

    /// <summary>The client's end for relays: plain unless TLS termination set its own.</summary>
    public RelayEnd End
    {
        get
        {
            lock (_gate)
            {
                return _end ??= new PlainEnd(_pipe ??= SocketPipes.CreateClientPipe(Client));
            }
        }

        set
        {
            lock (_gate)
            {
                _end = value;
            }
        }
    }

    public DateTimeOffset AcceptedAt { get; } = acceptedAt;

    /// <summary>Cancelled when the balancer closes the connection before it has a relay (for the steps before one).</summary>
    public CancellationToken Aborted
    {
        get
        {
            lock (_gate)
            {
                return _abort?.Token ?? new CancellationToken(_aborted);
            }
        }
    }

    /// <summary>Whether the balancer has closed the connection with <see cref="Abort"/>.</summary>
    public bool IsAborted => Volatile.Read(ref _aborted);

    /// <summary>
    /// Relays between the client and <paramref name="backend"/> until both directions end, then tells
    /// <paramref name="ended"/> how it went; aborts at once if the balancer already has.
    /// </summary>
    public void Relay(RelayEnd backend, System.Reactive.Concurrency.IScheduler scheduler, TimeSpan idleTimeout, IRelayEndObserver ended)
    {
        var client = End;
        DuplexRelay relay;
        lock (_gate)
        {
            // One pipe for the client across every attempt: a retried connection keeps what it was sent.
            relay = _relay = DuplexRelay.Create(client, backend, scheduler, idleTimeout, ended);
            _abort = null;
            if (_aborted)
            {
                relay.Abort();
            }
        }

        // Outside the lock: a relay can end before Run returns, and its end may retry this connection.
        relay.Run();
    }

    /// <summary>What its relay has relayed so far, when that has grown since the last sample; false without a relay.</summary>
    /// <param name="fromClient">Bytes relayed from the client since the relay started.</param>
    /// <param name="fromBackend">Bytes relayed from the backend since the relay started.</param>
    public bool TrySampleRelay(out long fromClient, out long fromBackend)
    {
        // Without the lock: a relay set or cleared meanwhile is sampled at the next tick.
        if (Volatile.Read(ref _relay) is { } relay)
        {
            return relay.TrySample(out fromClient, out fromBackend);
        }

        (fromClient, fromBackend) = (0, 0);
        return false;
    }

    /// <summary>
    /// After a relay handed the client back untouched (its backend reset before a byte), makes the next attempt's
    /// steps abortable again, as the first attempt's were.
    /// </summary>
    public void ReadyForRetry()
    {
        lock (_gate)
        {
            _relay = null;
            _abort ??= _aborted ? null : new CancellationTokenSource();
        }
    }

    /// <summary>Closes the client (with a FIN) when it will not be relayed: rejected, failed, or aborted while connecting.</summary>
    public void CloseClient()
    {
        lock (_gate)
        {
            if (_end is { } end)
            {
                end.Close();
            }
            else if (_pipe is { } pipe)
            {
                pipe.Input.Complete();
                pipe.Dispose();
            }
            else
            {
                Client.Dispose();
            }
        }
    }

    /// <summary>Closes the connection with a reset, whether it is still connecting or already relaying.</summary>
    public void Abort()
    {
        CancellationTokenSource? abort;
        DuplexRelay? relay;
        lock (_gate)
        {
            Volatile.Write(ref _aborted, true);
            relay = _relay;
            abort = _abort;
        }

        // Outside the lock: aborting a relay can end it here (and report its end), and cancelling runs whatever
        // registered (a connect, a handshake) right here. A relay made after the flag was set aborts itself (Relay).
        relay?.Abort();
        abort?.Cancel();
    }
}
