using System.Net;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// An input to the balancer's fold: something that happened that may change its state. A
/// <see cref="TcpLoadBalancer"/> makes these from sockets, probes and timers; <see cref="Testing.BalancingFold"/>
/// takes them from you.
/// </summary>
public abstract record BalancerEvent;

/// <summary>A client connection arrived and needs a backend.</summary>
/// <param name="ConnectionId">The connection's id, unique within one run of the fold; a repeated id is ignored.</param>
/// <param name="Client">The client's address, for access rules, per-client limits and strategies that hash it; null when unknown.</param>
public sealed record ConnectionArrived(long ConnectionId, EndPoint? Client = null) : BalancerEvent
{
    /// <summary>
    /// When it arrived, for per-client rate limits. The balancer stamps it from its scheduler, and
    /// <see cref="Testing.BalancingFold"/> from the one it is given, when it is left unset.
    /// </summary>
    public DateTimeOffset Time { get; init; }

    /// <summary>
    /// The server name the client asked for in its TLS ClientHello (SNI), lower case; null when it named
    /// none. With <see cref="Configuration.LoadBalancerOptions.Sni"/> routes, it picks the pool.
    /// </summary>
    public string? ServerName { get; init; }

    /// <summary>
    /// The listener it arrived on, as written in <see cref="Configuration.LoadBalancerOptions.Listen"/>, for
    /// that listener's access rules; null when it does not matter.
    /// </summary>
    public string? Listener { get; init; }
}

/// <summary>
/// The backend an assigned connection was sent to did not accept it (refused, timed out). Its active
/// count goes down, the failure counts towards ejecting it, and the connection is retried on another
/// backend if attempts are left.
/// </summary>
/// <param name="ConnectionId">The connection.</param>
public sealed record ConnectFailed(long ConnectionId) : BalancerEvent;

/// <summary>
/// An assigned connection ended; its backend's active count goes down. A clean end breaks the backend's
/// run of failures; a reset before the backend sent a byte adds to it.
/// </summary>
/// <param name="ConnectionId">The id of an earlier <see cref="ConnectionArrived"/>; an unknown id is ignored.</param>
/// <param name="BackendFailed">
/// The backend reset the connection before sending a byte: it accepts connections but cannot serve
/// them, which counts as a failure as much as a refused connect does.
/// </param>
public sealed record ConnectionEnded(long ConnectionId, bool BackendFailed = false) : BalancerEvent;

/// <summary>An active health probe of a backend finished.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="Healthy">Whether the probe succeeded.</param>
public sealed record HealthProbed(string Backend, bool Healthy) : BalancerEvent;

/// <summary>The time given by an <see cref="Ejection"/> has passed.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="Ejection">Which ejection (<see cref="BackendSnapshot.Ejections"/> when it began); a stale one is ignored.</param>
internal sealed record EjectionExpired(string Backend, int Ejection) : BalancerEvent;

/// <summary>An operator (or a discovery source) adds a backend; adding one that is draining resumes it with these options.</summary>
/// <param name="Backend">The backend, validated as configured backends are.</param>
public sealed record AddBackend(Configuration.BackendOptions Backend) : BalancerEvent;

/// <summary>An operator removes a backend: it is drained first, and leaves once its last connection ends.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="CloseAfter">When set, connections still open this long after the removal are closed (the runner times it).</param>
public sealed record RemoveBackend(string Backend, TimeSpan? CloseAfter = null) : BalancerEvent;

/// <summary>An operator drains a backend: it takes no new connections, and its open ones finish.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
public sealed record DrainBackend(string Backend) : BalancerEvent;

/// <summary>An operator changes a backend's weight; new connections follow it at once.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="Weight">The new weight, 0 to 10,000.</param>
public sealed record ReweightBackend(string Backend, int Weight) : BalancerEvent;

/// <summary>A queued connection has waited its <see cref="Configuration.LoadBalancerOptions.QueueTimeout"/>; it is rejected if still waiting.</summary>
/// <param name="ConnectionId">The connection.</param>
internal sealed record QueueTimedOut(long ConnectionId) : BalancerEvent;

/// <summary>The next step of a backend's slow start is due (the runner times it, after a <see cref="SlowStartStep"/>).</summary>
/// <param name="Backend">The backend's address, as configured.</param>
internal sealed record SlowStartTick(string Backend) : BalancerEvent;
