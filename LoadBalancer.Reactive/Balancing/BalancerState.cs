using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Net;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The balancer's state between two events. Immutable: the fold makes a new one for every event,
/// so any step can be kept, compared or replayed.
/// </summary>
/// <param name="Backends">Every backend with its health and counts, in configuration order: a persistent tree, so replacing one is O(log n).</param>
/// <param name="Connections">Every connection assigned and not yet released or failed.</param>
/// <param name="Decisions">How many arrivals have been decided; strategies use it to rotate ties.</param>
/// <param name="MembershipVersion">Bumped whenever a backend joins, leaves or changes weight.</param>
internal sealed record BalancerState(
    BackendList Backends,
    ImmutableDictionary<long, LiveConnection> Connections,
    long Decisions,
    long MembershipVersion)
{
    /// <summary>Connections waiting for a free slot, first come first served.</summary>
    public ImmutableList<Waiter> Queue { get; init; } = [];

    /// <summary>Per client address: connections held and recent new connections (only with per-client limits).</summary>
    public ImmutableDictionary<IPAddress, ClientTally> Clients { get; init; } = ImmutableDictionary<IPAddress, ClientTally>.Empty;

    /// <summary>The client address each admitted connection counts against, until it leaves the fold.</summary>
    public ImmutableDictionary<long, IPAddress> ClientOf { get; init; } = ImmutableDictionary<long, IPAddress>.Empty;

    /// <summary>Whether the balancer is stopping; from then on each connection that leaves is counted.</summary>
    public bool Stopping { get; init; }

    /// <summary>While stopping: connections that ended by themselves.</summary>
    public int FinishedWhileStopping { get; init; }

    /// <summary>While stopping: connections the balancer aborted (at the deadline, or while reading their preface).</summary>
    public int AbortedWhileStopping { get; init; }

    private FrozenDictionary<string, int> _indexByAddress = Index(Backends);

    public static BalancerState Create(IEnumerable<BackendOptions> backends, HealthCheckOptions? healthCheck = null) => new(
        BackendList.From(backends.Select(backend => FromOptions(backend, healthCheck ?? new HealthCheckOptions()))),
        ImmutableDictionary<long, LiveConnection>.Empty,
        Decisions: 0,
        MembershipVersion: 0);

    public BalancerSnapshot ToSnapshot() => new(Backends);

    /// <summary>The index of the backend with this address (case-insensitive), or -1.</summary>
    public int IndexOf(string? address) => address is not null && _indexByAddress.TryGetValue(address, out var index) ? index : -1;

    /// <summary>Replaces one backend, bumping <see cref="MembershipVersion"/> if its weight changed.</summary>
    public BalancerState WithBackend(int index, BackendSnapshot updated) => this with
    {
        Backends = Backends.SetItem(index, updated),
        MembershipVersion = Backends[index].Weight == updated.Weight ? MembershipVersion : MembershipVersion + 1,
    };

    /// <summary>A new set of members (one joined or left): the index is rebuilt and the version bumped.</summary>
    public BalancerState WithMembers(BackendList backends) => this with
    {
        Backends = backends,
        MembershipVersion = MembershipVersion + 1,
        _indexByAddress = Index(backends),
    };

    /// <summary>
    /// A backend made from its (validated) options, with its health check's rise and fall (its own, or the
    /// default). Nothing is parsed: the fold balances by address, weight, limit and pool only.
    /// </summary>
    public static BackendSnapshot FromOptions(BackendOptions options, HealthCheckOptions defaultHealthCheck)
    {
        var healthCheck = options.HealthCheck ?? defaultHealthCheck;
        return new BackendSnapshot(options.Address, options.Weight, ActiveConnections: 0, TotalConnections: 0)
        {
            MaxConnections = options.MaxConnections,
            Pool = string.IsNullOrEmpty(options.Pool) ? null : options.Pool,
            Draining = options.State == BackendState.Draining,
            Disabled = options.State == BackendState.Disabled,
            Rise = healthCheck.Rise,
            Fall = healthCheck.Fall,
        };
    }

    // Rebuilt only when members join or leave, so finding a connection's backend stays O(1).
    private static FrozenDictionary<string, int> Index(BackendList backends) =>
        backends.Select((backend, index) => KeyValuePair.Create(backend.Address, index)).ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
}

/// <summary>A connection the fold has assigned, until it is released or fails for good.</summary>
/// <param name="ArrivedAt">When it arrived, for its duration.</param>
/// <param name="Backend">The address of the backend it is assigned to now (indices move when members leave).</param>
/// <param name="Attempt">Which attempt that is: 1, then 2 on the first retry, and so on.</param>
/// <param name="Client">The client's address, kept for the strategy on a retry.</param>
/// <param name="Tried">Backends (by address) already tried and failed, which a retry skips.</param>
/// <param name="Pool">The pool its server name routed it to ("" for the default pool); null when nothing is routed.</param>
internal sealed record LiveConnection(DateTimeOffset ArrivedAt, string Backend, int Attempt, EndPoint? Client, ImmutableArray<string> Tried, string? Pool = null)
{
    /// <summary>The endpoint it arrived on, for the events (and the access log) that describe it.</summary>
    public EndPoint? Listener { get; init; }

    /// <summary>Bytes from the client already counted for its backend, by the samples of its live relay (<see cref="BytesRelayed"/>).</summary>
    public long BytesFromClient { get; init; }

    /// <summary>Bytes from the backend already counted, as <see cref="BytesFromClient"/>.</summary>
    public long BytesFromBackend { get; init; }
}

/// <summary>A connection waiting in the queue.</summary>
/// <param name="ConnectionId">The connection.</param>
/// <param name="Client">Its client's address, for the strategy when it is placed.</param>
/// <param name="Reason">What it waits for.</param>
/// <param name="Pool">The pool it must be placed in, as <see cref="LiveConnection.Pool"/>.</param>
/// <param name="ArrivedAt">When it arrived.</param>
internal sealed record Waiter(long ConnectionId, EndPoint? Client, Events.QueueReason Reason, string? Pool, DateTimeOffset ArrivedAt)
{
    /// <summary>The endpoint it arrived on.</summary>
    public EndPoint? Listener { get; init; }
}
