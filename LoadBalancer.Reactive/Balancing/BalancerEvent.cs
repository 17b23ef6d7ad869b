using System.Net;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// An input to the balancer's fold: something that happened that may change its state. A
/// <see cref="TcpLoadBalancer"/> makes these from sockets; <see cref="BalancingFold"/> takes them from you.
/// </summary>
/// <param name="ConnectionId">The connection it is about; unique within one run of the fold.</param>
public abstract record BalancerEvent(long ConnectionId);

/// <summary>A client connection arrived and needs a backend.</summary>
/// <param name="ConnectionId">The connection's id; a repeated id is ignored.</param>
/// <param name="Client">The client's address, for strategies that hash it; null when unknown.</param>
public sealed record ConnectionArrived(long ConnectionId, EndPoint? Client = null) : BalancerEvent(ConnectionId);

/// <summary>An assigned connection ended (or failed to connect); its backend's active count goes down.</summary>
/// <param name="ConnectionId">The id of an earlier <see cref="ConnectionArrived"/>; an unknown id is ignored.</param>
public sealed record ConnectionReleased(long ConnectionId) : BalancerEvent(ConnectionId);
