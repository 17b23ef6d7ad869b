namespace LoadBalancer.Reactive.Balancing;

/// <summary>What the fold decided about one event, for the side effects that follow it.</summary>
internal abstract record Decision(long ConnectionId);

/// <summary>Relay the connection to a backend.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="BackendIndex">The backend's index in the state.</param>
/// <param name="Backend">The backend after counting this connection.</param>
internal sealed record Assignment(long ConnectionId, int BackendIndex, BackendSnapshot Backend) : Decision(ConnectionId);

/// <summary>No backend can take the connection: close it.</summary>
internal sealed record Rejection(long ConnectionId, Events.RejectionReason Reason) : Decision(ConnectionId);

/// <summary>An assigned connection has ended and its backend's count went down.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="BackendIndex">The backend's index in the state.</param>
/// <param name="Backend">The backend after the count went down.</param>
internal sealed record Release(long ConnectionId, int BackendIndex, BackendSnapshot Backend) : Decision(ConnectionId);

/// <summary>One turn of the fold: the state after an event, and what was decided, if anything.</summary>
internal readonly record struct Step(BalancerState State, Decision? Decision);
