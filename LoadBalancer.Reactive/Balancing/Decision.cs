using System.Collections.Immutable;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>What the fold decided about a connection.</summary>
/// <param name="ConnectionId">The connection it is about.</param>
public abstract record Decision(long ConnectionId);

/// <summary>Connect the connection to a backend and relay it.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="BackendIndex">The backend's position among the members.</param>
/// <param name="Backend">The backend, already counting this connection.</param>
/// <param name="Attempt">1 for the first backend tried, 2 for the first retry, and so on.</param>
public sealed record Assignment(long ConnectionId, int BackendIndex, BackendSnapshot Backend, int Attempt = 1) : Decision(ConnectionId);

/// <summary>No backend can take the connection: it is closed.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="Reason">Why.</param>
public sealed record Rejection(long ConnectionId, Events.RejectionReason Reason) : Decision(ConnectionId)
{
    /// <summary>The client's address, when known.</summary>
    public System.Net.EndPoint? Client { get; init; }
}

/// <summary>
/// No slot is free (the connection limit is reached, or every backend that serves is full): the
/// connection waits, first come first served. Whoever runs the fold schedules its
/// <see cref="QueueTimedOut"/>.
/// </summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="Position">Its place in the queue, from 1.</param>
/// <param name="Reason">What it waits for.</param>
public sealed record Queued(long ConnectionId, int Position, Events.QueueReason Reason) : Decision(ConnectionId);

/// <summary>Every attempt to connect the connection failed, or no untried backend was left: it is closed.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="BackendIndex">The last backend tried.</param>
/// <param name="Backend">That backend, no longer counting this connection.</param>
/// <param name="Attempts">How many backends were tried.</param>
public sealed record GiveUp(long ConnectionId, int BackendIndex, BackendSnapshot Backend, int Attempts) : Decision(ConnectionId)
{
    /// <summary>The connection as the fold held it until now.</summary>
    internal LiveConnection? Connection { get; init; }
}

/// <summary>An assigned connection ended and its backend's active count went down.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="BackendIndex">The backend's position among the members.</param>
/// <param name="Backend">The backend, no longer counting this connection.</param>
public sealed record Release(long ConnectionId, int BackendIndex, BackendSnapshot Backend) : Decision(ConnectionId)
{
    /// <summary>The connection as the fold held it until now.</summary>
    internal LiveConnection? Connection { get; init; }
}

/// <summary>Something changed about a backend as a whole.</summary>
/// <param name="BackendIndex">The backend's position among the members.</param>
/// <param name="Backend">The backend after the change.</param>
public abstract record BackendChange(int BackendIndex, BackendSnapshot Backend);

/// <summary>Active health checks turned the backend healthy or unhealthy (see <see cref="BackendSnapshot.Healthy"/>).</summary>
/// <param name="BackendIndex">The backend's position among the members.</param>
/// <param name="Backend">The backend after the change.</param>
public sealed record HealthChange(int BackendIndex, BackendSnapshot Backend) : BackendChange(BackendIndex, Backend);

/// <summary>
/// Passive outlier detection ejected the backend. Whoever runs the fold schedules an
/// <see cref="EjectionExpired"/> for it after <paramref name="Duration"/>.
/// </summary>
/// <param name="BackendIndex">The backend's position among the members.</param>
/// <param name="Backend">The backend after the change; <see cref="BackendSnapshot.Ejections"/> numbers this ejection.</param>
/// <param name="Duration">How long it stays out, unless a health probe succeeds first.</param>
public sealed record Ejection(int BackendIndex, BackendSnapshot Backend, TimeSpan Duration) : BackendChange(BackendIndex, Backend);

/// <summary>An ejected backend is back.</summary>
/// <param name="BackendIndex">The backend's position among the members.</param>
/// <param name="Backend">The backend after the change.</param>
/// <param name="ByProbe">True when a successful health probe ended it early; false when its time ran out.</param>
public sealed record EjectionEnded(int BackendIndex, BackendSnapshot Backend, bool ByProbe) : BackendChange(BackendIndex, Backend);

/// <summary>
/// A backend's slow start moved on (see <see cref="BackendSnapshot.SlowStartPercent"/>). Whoever runs
/// the fold schedules a <see cref="SlowStartTick"/> after <paramref name="NextStepIn"/>, unless it is null (done).
/// </summary>
/// <param name="BackendIndex">The backend's position among the members.</param>
/// <param name="Backend">The backend after the step.</param>
/// <param name="NextStepIn">When the next step is due; null once at 100%.</param>
public sealed record SlowStartStep(int BackendIndex, BackendSnapshot Backend, TimeSpan? NextStepIn) : BackendChange(BackendIndex, Backend);

/// <summary>A backend joined, changed weight, started or finished draining, or left.</summary>
/// <param name="BackendIndex">The backend's position among the members (for <see cref="MembershipChangeKind.Left"/>, where it was).</param>
/// <param name="Backend">The backend after the change.</param>
/// <param name="Kind">What happened.</param>
/// <param name="CloseAfter">For a removal that started draining: when to close the connections still open, if ever.</param>
public sealed record MembershipChange(int BackendIndex, BackendSnapshot Backend, MembershipChangeKind Kind, TimeSpan? CloseAfter = null)
    : BackendChange(BackendIndex, Backend);

/// <summary>One turn of the fold: the input folded, the state after it, the decision about a connection, and backend changes.</summary>
internal readonly record struct Step(BalancerState State, Decision? Decision, ImmutableArray<BackendChange> Changes = default)
{
    public ImmutableArray<BackendChange> Changes { get; init; } = Changes.IsDefault ? [] : Changes;

    /// <summary>Queued connections this input made room for, placed in queue order.</summary>
    public ImmutableArray<Assignment> FromQueue { get; init; } = [];

    /// <summary>Connections to abort now (the close deadline of a removed backend passed).</summary>
    public ImmutableArray<long> Aborts { get; init; } = [];

    /// <summary>The input this step folded; null for the fold's starting point.</summary>
    public BalancerInput? Input { get; init; }
}
