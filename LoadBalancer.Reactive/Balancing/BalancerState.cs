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
internal sealed record BalancerState(
    ImmutableArray<BackendSnapshot> Backends,
    ImmutableDictionary<long, int> Connections,
    long Decisions)
{
    public static BalancerState Create(IEnumerable<BackendOptions> backends) => new(
        [.. backends.Select(FromOptions)],
        ImmutableDictionary<long, int>.Empty,
        Decisions: 0);

    public BalancerSnapshot ToSnapshot() => new(Backends);

    private static BackendSnapshot FromOptions(BackendOptions options)
    {
        if (!EndPointParser.TryParse(options.Address, allowPortZero: false, out var endPoint, out var error))
        {
            throw new ArgumentException($"Backend {error}.", nameof(options));
        }

        return new BackendSnapshot(options.Address, endPoint, options.Weight, ActiveConnections: 0, TotalConnections: 0);
    }
}
