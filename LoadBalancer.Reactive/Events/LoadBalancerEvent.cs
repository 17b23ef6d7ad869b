using System.Net;
using System.Net.Sockets;

namespace LoadBalancer.Reactive.Events;

/// <summary>Something that happened in a balancer, as host applications see it on <see cref="TcpLoadBalancer.Events"/>.</summary>
public abstract record LoadBalancerEvent
{
    /// <summary>When it happened, by the balancer's scheduler clock.</summary>
    public DateTimeOffset Timestamp { get; init; }
}

/// <summary>The balancer is listening.</summary>
/// <param name="ListenEndPoints">The endpoints actually bound (port 0 resolved to the port chosen).</param>
public sealed record BalancerStarted(IReadOnlyList<EndPoint> ListenEndPoints) : LoadBalancerEvent;

/// <summary>The balancer has stopped: no listener is open and no connection is relayed any more.</summary>
/// <param name="Finished">Connections that ended by themselves while the balancer was stopping.</param>
/// <param name="Aborted">Connections still open at the deadline, closed by the balancer.</param>
public sealed record BalancerStopped(int Finished, int Aborted) : LoadBalancerEvent;

/// <summary>
/// A client connected. Published once the balancer has read what it reads before balancing (a PROXY header,
/// the first byte, a ClientHello), if anything, so it names the real client.
/// </summary>
/// <param name="ConnectionId">Identifies the connection in every later event about it.</param>
/// <param name="Client">The client's address (from the PROXY header, when a trusted proxy sent one).</param>
/// <param name="Listener">The endpoint the client connected to.</param>
public sealed record ConnectionAccepted(long ConnectionId, EndPoint Client, EndPoint Listener) : LoadBalancerEvent
{
    /// <summary>The trusted proxy the connection came through, when <see cref="Client"/> was read from its PROXY header; else null.</summary>
    public EndPoint? ProxiedBy { get; init; }

    /// <summary>The server name from the client's TLS ClientHello, when connections are routed by it (and it named one).</summary>
    public string? ServerName { get; init; }
}

/// <summary>The strategy picked a backend for a connection (again, on a retry).</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="ActiveConnections">The backend's active connections, counting this one.</param>
/// <param name="Attempt">1 for the first backend tried, 2 for the first retry, and so on.</param>
public sealed record ConnectionAssigned(long ConnectionId, string Backend, int ActiveConnections, int Attempt = 1) : LoadBalancerEvent;

/// <summary>One attempt to connect to a backend failed; the connection is retried elsewhere if attempts are left.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="Error">The socket error (<see cref="SocketError.ConnectionRefused"/>, <see cref="SocketError.TimedOut"/>...).</param>
/// <param name="Message">A sentence describing the failure.</param>
/// <param name="Attempt">Which attempt failed.</param>
public sealed record ConnectAttemptFailed(long ConnectionId, string Backend, SocketError Error, string Message, int Attempt) : LoadBalancerEvent;

/// <summary>The connection to the backend is open; bytes are being relayed.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="ConnectTime">How long the backend took to accept.</param>
public sealed record BackendConnected(long ConnectionId, string Backend, TimeSpan ConnectTime) : LoadBalancerEvent;

/// <summary>A relayed connection ended.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="BytesFromClient">Bytes relayed from the client to the backend.</param>
/// <param name="BytesFromBackend">Bytes relayed from the backend to the client.</param>
/// <param name="Duration">From accepting the client to closing both sides.</param>
/// <param name="Reason">How it ended.</param>
/// <param name="ActiveConnections">The backend's active connections, no longer counting this one.</param>
public sealed record ConnectionCompleted(
    long ConnectionId,
    string Backend,
    long BytesFromClient,
    long BytesFromBackend,
    TimeSpan Duration,
    CompletionReason Reason,
    int ActiveConnections) : LoadBalancerEvent
{
    /// <summary>The client's address (from the PROXY header, when a trusted proxy sent one); null when unknown.</summary>
    public EndPoint? Client { get; init; }

    /// <summary>The endpoint the client connected to; null when unknown.</summary>
    public EndPoint? Listener { get; init; }

    /// <summary>How long the backend took to accept the connection.</summary>
    public TimeSpan ConnectTime { get; init; }
}

/// <summary>No backend could be reached for a connection (every attempt failed); the client was closed.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="Backend">The last backend tried, by its configured address.</param>
/// <param name="Error">The last socket error (<see cref="SocketError.ConnectionRefused"/>, <see cref="SocketError.TimedOut"/>...).</param>
/// <param name="Message">A sentence describing the last failure.</param>
/// <param name="ActiveConnections">The last backend's active connections, no longer counting this one.</param>
/// <param name="Attempts">How many backends were tried.</param>
public sealed record ConnectionFailed(long ConnectionId, string Backend, SocketError Error, string Message, int ActiveConnections, int Attempts = 1)
    : LoadBalancerEvent
{
    /// <summary>The client's address (from the PROXY header, when a trusted proxy sent one); null when unknown.</summary>
    public EndPoint? Client { get; init; }

    /// <summary>The endpoint the client connected to; null when unknown.</summary>
    public EndPoint? Listener { get; init; }
}

/// <summary>Active health checks turned a backend healthy or unhealthy (after <c>Rise</c> or <c>Fall</c> probes in a row).</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="Healthy">Its health now.</param>
public sealed record BackendHealthChanged(string Backend, bool Healthy) : LoadBalancerEvent;

/// <summary>Passive outlier detection took a backend out after too many failures in a row.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="Duration">How long it stays out, unless a health probe succeeds first.</param>
/// <param name="Ejections">How many times it has been ejected, this time included.</param>
public sealed record BackendEjected(string Backend, TimeSpan Duration, int Ejections) : LoadBalancerEvent;

/// <summary>A backend joined, changed weight, started or finished draining, or left the balancer.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="Kind">What happened.</param>
/// <param name="Weight">Its weight now.</param>
/// <param name="ActiveConnections">Its open connections now (for a drain that started, how many must finish).</param>
public sealed record BackendMembershipChanged(string Backend, MembershipChangeKind Kind, int Weight, int ActiveConnections)
    : LoadBalancerEvent;

/// <summary>
/// The balancer was reconfigured (<see cref="TcpLoadBalancer.Reconfigure"/>, or a hosted balancer's configuration
/// reloaded): what changed live, and what changed but keeps its old value until the balancer is restarted.
/// </summary>
/// <param name="Applied">The settings applied live, as configuration key paths (<c>Backends</c>, <c>Clients:Allow</c>, <c>HealthCheck:Interval</c>).</param>
/// <param name="RestartNeeded">The settings that differ from the running ones but take effect only on a restart (<c>Listen</c>, <c>Strategy</c>).</param>
public sealed record ConfigurationChanged(IReadOnlyList<string> Applied, IReadOnlyList<string> RestartNeeded) : LoadBalancerEvent;

/// <summary>A set of backends from <see cref="TcpLoadBalancer.FollowBackends"/> was invalid and skipped; the members stay as they were.</summary>
/// <param name="Errors">Every problem with the set.</param>
public sealed record MembershipRejected(IReadOnlyList<string> Errors) : LoadBalancerEvent;

/// <summary>
/// A discovery source (<see cref="TcpLoadBalancer.FollowBackends"/>, DNS) failed: the balancer stopped following it
/// and keeps the members it has.
/// </summary>
/// <param name="Message">What went wrong.</param>
public sealed record DiscoveryFailed(string Message) : LoadBalancerEvent;

/// <summary>
/// A discovery source that keeps running (etcd) lost or regained its store, or ignored one entry it could not use;
/// while the store is unavailable the balancer keeps the members it has.
/// </summary>
/// <param name="Source">The source and where it reads, e.g. <c>etcd /loadbalancer/backends/</c>.</param>
/// <param name="Kind">What happened.</param>
/// <param name="Message">What went wrong or what came back; for an ignored entry, its key and why.</param>
public sealed record DiscoveryReported(string Source, DiscoveryReportKind Kind, string Message) : LoadBalancerEvent;

/// <summary>What a <see cref="DiscoveryReported"/> says.</summary>
public enum DiscoveryReportKind
{
    /// <summary>The store cannot be reached; the source retries with back-off and the members stay as they are.</summary>
    Unavailable,

    /// <summary>The store is reachable again; changes made meanwhile are applied.</summary>
    Recovered,

    /// <summary>One entry (a key) could not be read as a backend and is ignored; the others apply.</summary>
    EntryIgnored,
}

/// <summary>An ejected backend is back: its ejection ended.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="ByProbe">True when a successful health probe ended the ejection early; false when its time ran out.</param>
public sealed record BackendEjectionEnded(string Backend, bool ByProbe) : LoadBalancerEvent;

/// <summary>No backend could take a connection; the client was closed.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="Client">The client's address.</param>
/// <param name="Reason">Why.</param>
public sealed record ConnectionRejected(long ConnectionId, EndPoint Client, RejectionReason Reason) : LoadBalancerEvent;

/// <summary>Accepting on a listener failed; the listener keeps accepting after a short pause.</summary>
/// <param name="Listener">The listener's endpoint.</param>
/// <param name="Error">The socket error.</param>
/// <param name="Message">A sentence describing the failure.</param>
public sealed record AcceptFailed(EndPoint Listener, SocketError Error, string Message) : LoadBalancerEvent;

/// <summary>A subscriber to <see cref="TcpLoadBalancer.Events"/> threw. The balancer carried on and so does the subscription.</summary>
/// <param name="Exception">What the subscriber threw.</param>
public sealed record SubscriberFaulted(Exception Exception) : LoadBalancerEvent;

/// <summary>This subscriber fell behind by more than <c>EventBufferCapacity</c> events, and this many were dropped for it.</summary>
/// <param name="Count">Events dropped since the last one delivered.</param>
public sealed record EventsDropped(long Count) : LoadBalancerEvent;

/// <summary>How a relayed connection ended.</summary>
public enum CompletionReason
{
    /// <summary>The client closed first (FIN), then the backend.</summary>
    ClientClosed,

    /// <summary>The backend closed first (FIN), then the client.</summary>
    BackendClosed,

    /// <summary>The client reset the connection; the reset was passed on to the backend.</summary>
    ClientReset,

    /// <summary>The backend reset the connection; the reset was passed on to the client.</summary>
    BackendReset,

    /// <summary>The balancer closed the connection, because it was stopping.</summary>
    Aborted,

    /// <summary>No bytes moved either way for the idle timeout; the balancer closed both sides (FIN).</summary>
    IdleTimeout,
}

/// <summary>Why a connection was rejected.</summary>
public enum RejectionReason
{
    /// <summary>No backend was available (all down, ejected, draining or weighted 0).</summary>
    NoBackendAvailable,

    /// <summary>The balancer was at <c>MaxConnections</c> and its queue was full (or off).</summary>
    ConnectionLimitReached,

    /// <summary>Every backend that serves was at its <c>MaxConnections</c> and the queue was full (or off).</summary>
    AllBackendsFull,

    /// <summary>The connection waited in the queue for <c>QueueTimeout</c> without a slot coming free.</summary>
    QueueTimeout,

    /// <summary>The client's address is in a denied network, or outside every allowed one (<c>Clients:Allow</c>, <c>Clients:Deny</c>, or its listener's in <c>Clients:Listeners</c>).</summary>
    Denied,

    /// <summary>The client already held <c>Clients:MaxConnections</c> connections.</summary>
    ClientConnectionLimit,

    /// <summary>The client opened <c>Clients:MaxConnectionRate</c> connections within <c>Clients:ConnectionRateInterval</c> already.</summary>
    ClientRateLimit,

    /// <summary>A connection from a trusted proxy (<c>AcceptProxy.From</c>) did not start with a valid PROXY header in time.</summary>
    InvalidProxyHeader,

    /// <summary>The client sent nothing within <c>FirstByteTimeout</c> (or closed without a byte).</summary>
    FirstByteTimeout,

    /// <summary>Connections are routed by server name, and the client's first bytes were not a valid TLS ClientHello in time.</summary>
    InvalidClientHello,

    /// <summary>The balancer terminates TLS, and the client's handshake failed or did not finish within <c>Tls:HandshakeTimeout</c>.</summary>
    TlsHandshakeFailed,

    /// <summary>The connection was still waiting in the queue when the balancer's drain deadline passed.</summary>
    BalancerStopping,
}

/// <summary>What a queued connection waits for.</summary>
public enum QueueReason
{
    /// <summary>A free slot under the balancer's <c>MaxConnections</c>.</summary>
    ConnectionLimit,

    /// <summary>A backend with room under its <c>MaxConnections</c>.</summary>
    BackendsFull,
}

/// <summary>No slot was free, so the connection waits in the queue (its client is not read meanwhile).</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="Position">Its place in the queue, from 1.</param>
/// <param name="Reason">What it waits for.</param>
public sealed record ConnectionQueued(long ConnectionId, int Position, QueueReason Reason) : LoadBalancerEvent;

/// <summary>What a <see cref="BackendMembershipChanged"/> was.</summary>
public enum MembershipChangeKind
{
    /// <summary>The backend joined (or a draining one was resumed) and takes new connections.</summary>
    Joined,

    /// <summary>The backend's weight changed.</summary>
    Reweighted,

    /// <summary>The backend stopped taking new connections; its open ones carry on.</summary>
    DrainStarted,

    /// <summary>The last open connection of a draining backend ended.</summary>
    Drained,

    /// <summary>The backend is no longer a member.</summary>
    Left,

    /// <summary>An operator put the backend in maintenance: no new connections, no probes; open ones carry on.</summary>
    Disabled,

    /// <summary>An operator put a disabled or draining backend back in service.</summary>
    Enabled,
}
