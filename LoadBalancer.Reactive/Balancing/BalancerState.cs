using System.Collections.Immutable;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The balancer's state between two events. Immutable: the fold makes a new one for every event,
/// so any step can be kept, compared or replayed.
/// </summary>
/// <param name="Backends">Every backend with its counts, in configuration order.</param>
/// <param name="Connections">Which backend (by index) each live connection was assigned to.</param>
/// <param name="Decisions">How many arrivals have been decided; strategies use it to rotate ties.</param>
/// <param name="MembershipVersion">Bumped whenever a backend joins, leaves or changes weight.</param>
internal sealed record BalancerState(
    ImmutableArray<BackendSnapshot> Backends,
    ImmutableDictionary<long, int> Connections,
    long Decisions,
    long MembershipVersion)
{
    public static BalancerState Create(IEnumerable<BackendOptions> backends) => new(
        [.. backends.Select(FromOptions)],
        ImmutableDictionary<long, int>.Empty,
        Decisions: 0,
        MembershipVersion: 0);

    public BalancerSnapshot ToSnapshot() => new(Backends);

    /// <summary>Replaces one backend, bumping <see cref="MembershipVersion"/> if its weight changed.</summary>
    public ImmutableArray<BackendSnapshot> WithBackend(int index, BackendSnapshot updated, out long membershipVersion)
    {
        membershipVersion = Backends[index].Weight == updated.Weight ? MembershipVersion : MembershipVersion + 1;
        return Backends.SetItem(index, updated);
    }

    private static BackendSnapshot FromOptions(BackendOptions options)
    {
        if (!EndPointParser.TryParse(options.Address, allowPortZero: false, out var endPoint, out var error))
        {
            throw new ArgumentException($"Backend {error}.", nameof(options));
        }

        return new BackendSnapshot(options.Address, endPoint, options.Weight, ActiveConnections: 0, TotalConnections: 0);
    }
}
