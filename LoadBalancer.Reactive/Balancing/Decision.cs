namespace LoadBalancer.Reactive.Balancing;

/// <summary>What the fold decided about one event.</summary>
/// <param name="ConnectionId">The connection it is about.</param>
public abstract record Decision(long ConnectionId);

/// <summary>Relay the connection to a backend.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="BackendIndex">The backend's position in the configured list.</param>
/// <param name="Backend">The backend, already counting this connection.</param>
public sealed record Assignment(long ConnectionId, int BackendIndex, BackendSnapshot Backend) : Decision(ConnectionId);

/// <summary>No backend can take the connection: it is closed.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="Reason">Why.</param>
public sealed record Rejection(long ConnectionId, Events.RejectionReason Reason) : Decision(ConnectionId);

/// <summary>An assigned connection ended and its backend's active count went down.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="BackendIndex">The backend's position in the configured list.</param>
/// <param name="Backend">The backend, no longer counting this connection.</param>
public sealed record Release(long ConnectionId, int BackendIndex, BackendSnapshot Backend) : Decision(ConnectionId);

/// <summary>One turn of the fold: the state after an event, and what was decided, if anything.</summary>
internal readonly record struct Step(BalancerState State, Decision? Decision);
