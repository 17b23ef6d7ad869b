using System.Collections.Immutable;
using System.Reactive.Concurrency;
using System.Reactive.Linq;
using LoadBalancer.Reactive.Balancing;

namespace LoadBalancer.Reactive.Connections;

/// <summary>
/// Flushes the byte counts of live relays into the fold once a <see cref="Period"/>: it walks the open connections,
/// takes the running totals of each relay that moved bytes since the last tick, and makes them one
/// <see cref="BytesRelayed"/> input, so byte counters grow while long connections flow. A tick where nothing moved
/// makes no input. Relays only add to counts of their own; nothing is sent per read.
/// </summary>
/// <param name="registry">The open connections.</param>
/// <param name="scheduler">The balancer's clock; it times the ticks and stamps the inputs.</param>
internal sealed class RelaySampler(ConnectionRegistry registry, IScheduler scheduler)
{
    /// <summary>How often live relays are sampled.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    /// <summary>
    /// One <see cref="BytesRelayed"/> per tick in which some relay moved bytes, until disposed. Subscribe once: a
    /// subscription's ticks come one at a time, which the relays' record of their last sample relies on.
    /// </summary>
    public IObservable<BalancerInput> Flushes() =>
        Observable.Interval(Period, scheduler).Select(_ => Sample()).Where(sample => sample is not null)!;

    /// <summary>What the relays moved since the last sample, or null when none moved.</summary>
    internal BytesRelayed? Sample()
    {
        if (registry.Count == 0)
        {
            return null;
        }

        ImmutableArray<RelayedSoFar>.Builder? relays = null;
        foreach (var connection in registry.Open)
        {
            if (connection.TrySampleRelay(out var fromClient, out var fromBackend))
            {
                (relays ??= ImmutableArray.CreateBuilder<RelayedSoFar>()).Add(new RelayedSoFar(connection.Id, fromClient, fromBackend));
            }
        }

        return relays is null ? null : new BytesRelayed(relays.DrainToImmutable()) { Time = scheduler.Now };
    }
}
