using System.Net;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>An input to the fold: something that happened and may change the balancer's state.</summary>
internal abstract record BalancerEvent(long ConnectionId);

/// <summary>A client connection arrived and needs a backend.</summary>
/// <param name="ConnectionId">The connection's id, unique within one balancer.</param>
/// <param name="Client">The client's address, for strategies that hash it.</param>
internal sealed record ConnectionArrived(long ConnectionId, EndPoint? Client) : BalancerEvent(ConnectionId);

/// <summary>A connection the fold assigned has ended (relayed and closed, or failed to connect).</summary>
/// <param name="ConnectionId">The id given in the matching <see cref="ConnectionArrived"/>.</param>
internal sealed record ConnectionReleased(long ConnectionId) : BalancerEvent(ConnectionId);
