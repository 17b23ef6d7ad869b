using System.Collections.Immutable;
using System.Net;

namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// Picks the backend for each new connection. Implement it to balance your own way, and set
/// <see cref="Configuration.LoadBalancerOptions.CustomStrategy"/> or pass it to <see cref="Testing.BalancingFold.Run(IObservable{BalancerInput}, IReadOnlyList{Configuration.BackendOptions}, ILoadBalancingStrategy, int?)"/>.
/// </summary>
/// <remarks>
/// The balancer calls <see cref="Pick"/> only inside its fold, one call at a time, so an implementation
/// may keep private state without locks; an instance therefore serves one balancer. Given the same
/// context (and the same <see cref="BalancingContext.Random"/> sequence) it should return the same
/// answer, which is what makes a strategy testable in virtual time.
/// </remarks>
public interface ILoadBalancingStrategy
{
    /// <summary>
    /// Returns the index in <see cref="BalancingContext.Backends"/> of the backend to use, or
    /// <see cref="BalancingContext.None"/> when no backend is <see cref="BackendSnapshot.Available"/>
    /// (the connection is then rejected).
    /// </summary>
    /// <param name="context">The backends with their current counts, and what is known of the connection.</param>
    int Pick(in BalancingContext context);
}

/// <summary>What a strategy knows when it picks a backend for one connection.</summary>
public readonly struct BalancingContext
{
    /// <summary>The value <see cref="ILoadBalancingStrategy.Pick"/> returns when no backend can take the connection.</summary>
    public const int None = -1;

    /// <summary>Creates a context; the fold makes one per decision.</summary>
    /// <param name="backends">Every backend with its current counts.</param>
    /// <param name="connectionId">The connection being placed.</param>
    /// <param name="client">The client's address, when known.</param>
    /// <param name="decisionNumber">How many connections were decided before this one.</param>
    /// <param name="membershipVersion">Changes whenever a backend is added, removed or re-weighted.</param>
    /// <param name="random">The fold's random source.</param>
    public BalancingContext(
        ImmutableArray<BackendSnapshot> backends, long connectionId, EndPoint? client, long decisionNumber, long membershipVersion, Random random)
        : this(BackendList.From(backends), connectionId, client, decisionNumber, membershipVersion, random)
    {
    }

    /// <summary>Creates a context over the fold's own backend list, which the built-in strategies search in O(log n).</summary>
    internal BalancingContext(
        BackendList backends, long connectionId, EndPoint? client, long decisionNumber, long membershipVersion, Random random)
    {
        List = backends;
        ConnectionId = connectionId;
        Client = client;
        DecisionNumber = decisionNumber;
        MembershipVersion = membershipVersion;
        Random = random;
    }

    /// <summary>Every backend with its current counts, in configuration order. Skip those not <see cref="BackendSnapshot.Available"/>.</summary>
    /// <remarks>Made once per fold step from the fold's backend tree (O(n)); the built-in strategies search <see cref="List"/> instead.</remarks>
    public ImmutableArray<BackendSnapshot> Backends => List?.ToImmutableArray() ?? default;

    /// <summary>The same backends as a tree that keeps counts, weights and the least loaded per subtree.</summary>
    internal BackendList List { get; }

    /// <summary>The connection being placed.</summary>
    public long ConnectionId { get; }

    /// <summary>The client's address, when known; hashing strategies key on its IP address.</summary>
    public EndPoint? Client { get; }

    /// <summary>How many connections were decided before this one; useful to rotate ties.</summary>
    public long DecisionNumber { get; }

    /// <summary>
    /// Changes whenever a backend is added, removed or re-weighted (not when only its counts or health
    /// change). Strategies that precompute from the backend list, like a hash table, rebuild when it changes.
    /// </summary>
    public long MembershipVersion { get; }

    /// <summary>
    /// The only randomness a strategy should use: seeded from <see cref="Configuration.LoadBalancerOptions.RandomSeed"/>,
    /// so a run with the same seed and the same events makes the same decisions.
    /// </summary>
    public Random Random { get; }
}
