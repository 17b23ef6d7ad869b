using System.Collections.Immutable;
using System.Net;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// Picks the backend for one new connection. Called only inside the fold, one call at a time, so an
/// implementation needs no locks; given the same context it must return the same answer.
/// </summary>
internal interface ILoadBalancingStrategy
{
    /// <summary>Returns the index in <see cref="BalancingContext.Backends"/> to use, or -1 when none is available.</summary>
    int Pick(in BalancingContext context);
}

/// <summary>What a strategy knows when it picks.</summary>
/// <param name="Backends">Every backend with its current counts; skip those not <see cref="BackendSnapshot.Available"/>.</param>
/// <param name="Client">The client's address, when known.</param>
/// <param name="DecisionNumber">How many connections were decided before this one.</param>
internal readonly record struct BalancingContext(ImmutableArray<BackendSnapshot> Backends, EndPoint? Client, long DecisionNumber);
