using System.Net;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// An input to the balancer's fold: something that happened that may change its state. A
/// <see cref="TcpLoadBalancer"/> makes these from sockets, probes, timers and operator calls, and folds them
/// one at a time; <see cref="Testing.BalancingFold"/> takes them from you.
/// </summary>
/// <remarks>
/// The words: a <em>connect</em> is one attempt to reach a backend (<see cref="ConnectFailed"/>), a
/// <em>connection</em> is the client's whole stay (<see cref="ConnectionArrived"/> to <see cref="ConnectionEnded"/>).
/// </remarks>
public abstract record BalancerInput
{
    /// <summary>
    /// When it happened. The balancer stamps it from its scheduler, and <see cref="Testing.BalancingFold"/> from
    /// the one it is given, when it is left unset.
    /// </summary>
    public DateTimeOffset Time { get; init; }
}

/// <summary>A client connection arrived and needs a backend.</summary>
/// <param name="ConnectionId">The connection's id, unique within one run of the fold; a repeated id is ignored.</param>
/// <param name="Client">The client's address, for access rules, per-client limits and strategies that hash it; null when unknown.</param>
public sealed record ConnectionArrived(long ConnectionId, EndPoint? Client = null) : BalancerInput
{
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

    /// <summary>The endpoint the client connected to, as bound.</summary>
    internal EndPoint? ListenerEndPoint { get; init; }

    /// <summary>
    /// When the client connected, if earlier than <see cref="BalancerInput.Time"/> (its preface was read first):
    /// its duration and its client's connection rate count from then.
    /// </summary>
    internal DateTimeOffset AcceptedAt { get; init; }

    /// <summary>When the connection began: <see cref="AcceptedAt"/> when set, else <see cref="BalancerInput.Time"/>.</summary>
    internal DateTimeOffset Since => AcceptedAt == default ? Time : AcceptedAt;

    /// <summary>The trusted proxy it came through, when <see cref="Client"/> was read from a PROXY header.</summary>
    internal EndPoint? ProxiedBy { get; init; }

    /// <summary>
    /// Why the connection is rejected before the fold could balance it (a bad PROXY header, no first byte, a
    /// failed TLS handshake); null when it arrived whole.
    /// </summary>
    internal RejectionReason? Rejected { get; init; }

    /// <summary>With <see cref="Rejected"/>: the balancer itself aborted the connection while reading its preface (it is stopping).</summary>
    internal bool Aborted { get; init; }
}

/// <summary>
/// A connect to the backend an assigned connection was sent to failed (refused, timed out, reset before a
/// byte). Its active count goes down, the failure counts towards ejecting it, and the connection is tried on
/// another backend if attempts are left.
/// </summary>
/// <param name="ConnectionId">The connection.</param>
public sealed record ConnectFailed(long ConnectionId) : BalancerInput
{
    /// <summary>What went wrong, for events; null when not told.</summary>
    internal FailureDetail? Detail { get; init; }
}

/// <summary>
/// An assigned connection ended; its backend's active count goes down. A clean end breaks the backend's run
/// of failures; a reset before the backend sent a byte adds to it.
/// </summary>
/// <param name="ConnectionId">The id of an earlier <see cref="ConnectionArrived"/>; an unknown id is ignored.</param>
/// <param name="BackendFailed">
/// The backend reset the connection before sending a byte: it accepts connections but cannot serve
/// them, which counts as a failure as much as a refused connect does.
/// </param>
public sealed record ConnectionEnded(long ConnectionId, bool BackendFailed = false) : BalancerInput
{
    /// <summary>Bytes relayed from the client to the backend.</summary>
    public long BytesFromClient { get; init; }

    /// <summary>Bytes relayed from the backend to the client.</summary>
    public long BytesFromBackend { get; init; }

    /// <summary>How it ended.</summary>
    public CompletionReason Reason { get; init; } = CompletionReason.ClientClosed;

    /// <summary>How long its backend took to accept it, when it was relayed.</summary>
    internal TimeSpan? ConnectTime { get; init; }

    /// <summary>Why, when the connection was never relayed (aborted while connecting): it ended as a failure.</summary>
    internal FailureDetail? NeverRelayed { get; init; }
}

/// <summary>An active health probe of a backend finished.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="Healthy">Whether the probe succeeded.</param>
public sealed record HealthProbed(string Backend, bool Healthy) : BalancerInput;

/// <summary>An operator (or a discovery source) adds a backend; adding one that is draining resumes it with these options.</summary>
/// <param name="Backend">The backend, validated as configured backends are.</param>
public sealed record AddBackend(Configuration.BackendOptions Backend) : BalancerInput;

/// <summary>An operator removes a backend: it is drained first, and leaves once its last connection ends.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="CloseAfter">When set, connections still open this long after the removal are closed.</param>
public sealed record RemoveBackend(string Backend, TimeSpan? CloseAfter = null) : BalancerInput;

/// <summary>An operator drains a backend: it takes no new connections, and its open ones finish.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
public sealed record DrainBackend(string Backend) : BalancerInput;

/// <summary>An operator changes a backend's weight; new connections follow it at once.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="Weight">The new weight, 0 to 10,000.</param>
public sealed record ReweightBackend(string Backend, int Weight) : BalancerInput;

/// <summary>
/// An operator puts a backend in maintenance (HAProxy's <c>disable server</c>): it takes no new connections and is
/// not probed, its open connections carry on, and it stays a member until enabled or removed.
/// </summary>
/// <param name="Backend">The backend's address, as configured.</param>
public sealed record DisableBackend(string Backend) : BalancerInput;

/// <summary>An operator puts a disabled or draining backend back in service (HAProxy's <c>enable server</c>).</summary>
/// <param name="Backend">The backend's address, as configured.</param>
public sealed record EnableBackend(string Backend) : BalancerInput;

/// <summary>The connect of an assigned connection succeeded; bytes are about to be relayed.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="ConnectTime">How long the backend took to accept.</param>
internal sealed record ConnectSucceeded(long ConnectionId, TimeSpan ConnectTime) : BalancerInput;

/// <summary>
/// How far live relays have got, sampled about once a second (never per read): each relay that moved bytes since
/// the last sample, with its running totals. What it relayed since the previous sample counts for its backend at
/// once, so byte counters grow while a long connection flows; its <see cref="ConnectionEnded"/> then counts only
/// the rest. A connection that has ended meanwhile is skipped: its end counted everything.
/// </summary>
/// <param name="Relays">Each relay that moved bytes, with the bytes it relayed each way since it started.</param>
internal sealed record BytesRelayed(System.Collections.Immutable.ImmutableArray<RelayedSoFar> Relays) : BalancerInput;

/// <summary>One relay's running totals in a <see cref="BytesRelayed"/>.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="BytesFromClient">Bytes relayed from the client to the backend since the relay started.</param>
/// <param name="BytesFromBackend">Bytes relayed from the backend to the client since the relay started.</param>
internal readonly record struct RelayedSoFar(long ConnectionId, long BytesFromClient, long BytesFromBackend);

/// <summary>The time given by an <see cref="Ejection"/> has passed.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="Ejection">Which ejection (<see cref="BackendSnapshot.Ejections"/> when it began); a stale one is ignored.</param>
internal sealed record EjectionExpired(string Backend, int Ejection) : BalancerInput;

/// <summary>A queued connection has waited its <see cref="Configuration.LoadBalancerOptions.QueueTimeout"/>; it is rejected if still waiting.</summary>
/// <param name="ConnectionId">The connection.</param>
internal sealed record QueueTimedOut(long ConnectionId) : BalancerInput;

/// <summary>The next step of a backend's slow start is due (after a <see cref="SlowStartStep"/>).</summary>
/// <param name="Backend">The backend's address, as configured.</param>
internal sealed record SlowStartTick(string Backend) : BalancerInput;

/// <summary>The close deadline of a removed backend has passed: its connections still open are aborted.</summary>
/// <param name="Backend">The backend's address, as configured.</param>
/// <param name="Removal">Which removal of the backend set the deadline (see <see cref="BackendSnapshot.Removal"/>).</param>
internal sealed record CloseDeadlinePassed(string Backend, int Removal = 0) : BalancerInput;

/// <summary>The balancer stops: from here on, each connection that leaves is counted as finished or aborted.</summary>
internal sealed record StopRequested : BalancerInput;

/// <summary>
/// The drain deadline passed while stopping: the connection at the head of the queue is rejected, and the input
/// is folded again while any waits (the connections' work re-posts it); the facade aborts the open ones.
/// </summary>
internal sealed record StopDeadlinePassed : BalancerInput;

/// <summary>Nothing is open any more: the balancer has stopped.</summary>
internal sealed record StopFinished : BalancerInput;

/// <summary>
/// The balancer was reconfigured live (<see cref="TcpLoadBalancer.Reconfigure"/>): from this input on the fold decides
/// by the rules of <paramref name="Options"/> (access rules, limits, queueing, retries, outlier detection, slow start,
/// panic mode), and the members it names take their limit, pool, rise and fall from them. Weights and states change
/// through the membership inputs that follow it.
/// </summary>
/// <param name="Options">The options in force from now on (validated; settings that need a restart as they were).</param>
/// <param name="Change">What hosts are told: the settings applied and those that need a restart.</param>
internal sealed record Reconfigured(Configuration.LoadBalancerOptions Options, ConfigurationChanged Change) : BalancerInput;

/// <summary>
/// Something hosts are told that changes nothing in the fold (the balancer listening, an accept that failed, a
/// backend set refused, a discovery source that failed): folded all the same, so that every public event comes
/// from one ordered log of inputs.
/// </summary>
/// <param name="Event">The event, published as it is, stamped with this input's time.</param>
internal sealed record Reported(LoadBalancerEvent Event) : BalancerInput;
