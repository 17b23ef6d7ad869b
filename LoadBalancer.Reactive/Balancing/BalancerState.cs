using System.Collections.Immutable;
using System.Net;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The balancer's state between two events. Immutable: the fold makes a new one for every event,
/// so any step can be kept, compared or replayed.
/// </summary>
/// <param name="Backends">Every backend with its health and counts, in configuration order.</param>
/// <param name="Connections">Every connection assigned and not yet released or failed.</param>
/// <param name="Decisions">How many arrivals have been decided; strategies use it to rotate ties.</param>
/// <param name="MembershipVersion">Bumped whenever a backend joins, leaves or changes weight.</param>
internal sealed record BalancerState(
    ImmutableArray<BackendSnapshot> Backends,
    ImmutableDictionary<long, LiveConnection> Connections,
    long Decisions,
    long MembershipVersion)
{
    public static BalancerState Create(IEnumerable<BackendOptions> backends, HealthCheckOptions? healthCheck = null) => new(
        [.. backends.Select(backend => FromOptions(backend, backend.HealthCheck ?? healthCheck ?? new HealthCheckOptions()))],
        ImmutableDictionary<long, LiveConnection>.Empty,
        Decisions: 0,
        MembershipVersion: 0);

    public BalancerSnapshot ToSnapshot() => new(Backends);

    /// <summary>The index of the backend with this address, or -1.</summary>
    public int IndexOf(string address)
    {
        for (var index = 0; index < Backends.Length; index++)
        {
            if (string.Equals(Backends[index].Address, address, StringComparison.OrdinalIgnoreCase))
            {
                return index;
            }
        }

        return -1;
    }

    /// <summary>Replaces one backend, bumping <see cref="MembershipVersion"/> if its weight changed.</summary>
    public BalancerState WithBackend(int index, BackendSnapshot updated) => this with
    {
        Backends = Backends.SetItem(index, updated),
        MembershipVersion = Backends[index].Weight == updated.Weight ? MembershipVersion : MembershipVersion + 1,
    };

    private static BackendSnapshot FromOptions(BackendOptions options, HealthCheckOptions healthCheck)
    {
        if (!EndPointParser.TryParse(options.Address, allowPortZero: false, out var endPoint, out var error))
        {
            throw new ArgumentException($"Backend {error}.", nameof(options));
        }

        return new BackendSnapshot(options.Address, endPoint, options.Weight, ActiveConnections: 0, TotalConnections: 0)
        {
            Rise = healthCheck.Rise,
            Fall = healthCheck.Fall,
        };
    }
}

/// <summary>A connection the fold has assigned, until it is released or fails for good.</summary>
/// <param name="Backend">The backend (index) it is assigned to now.</param>
/// <param name="Attempt">Which attempt that is: 1, then 2 on the first retry, and so on.</param>
/// <param name="Client">The client's address, kept for the strategy on a retry.</param>
/// <param name="Tried">Backends already tried and failed, which a retry skips.</param>
internal sealed record LiveConnection(int Backend, int Attempt, EndPoint? Client, ImmutableArray<int> Tried);
