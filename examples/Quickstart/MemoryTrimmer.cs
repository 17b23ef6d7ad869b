using System.Reactive.Concurrency;
using System.Reactive.Linq;

namespace Quickstart;

/// <summary>
/// Gives memory back to the system after a wave of connections has closed. The GC reuses what closed connections
/// leave behind, but it only returns memory after a full collection, and once the wave is over nothing allocates
/// enough to start one: 5,000 idle connections that closed left the process 7 MiB larger than while they were open
/// (benchmarks/RESULTS.md). So, once a <see cref="Period"/>, this compares the open connections with their peak since
/// the last trim; when at least <see cref="MinimumDrop"/> have closed and at most a quarter of the peak is left, it
/// asks the GC for one aggressive collection (it compacts and decommits what it can), and that becomes the new peak.
/// </summary>
/// <remarks>
/// The collection pauses the process for a few milliseconds, once per wave and never under steady load, where the
/// open count does not fall that far. HAProxy and nginx keep their peak memory instead (their pools are not trimmed
/// until memory runs short).
/// </remarks>
/// <param name="openConnections">The connections open now.</param>
/// <param name="trim">Returns memory to the system; a full, compacting, decommitting collection unless a test says otherwise.</param>
internal sealed class MemoryTrimmer(Func<long> openConnections, Action trim)
{
    /// <summary>How often the open connections are compared with their peak.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    /// <summary>How many connections must have closed since the peak before a trim pays for its pause.</summary>
    public const long MinimumDrop = 1000;

    private long _peak;

    /// <summary>The collection that returns the most memory: blocking, compacting, and decommitting free space.</summary>
    public static void Collect() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    /// <summary>
    /// Checks once a <see cref="Period"/> on <paramref name="scheduler"/>, until disposed; <paramref name="trimmed"/> hears
    /// of each trim (resident bytes before and after). A check that throws (the report's writer closed, say) is skipped:
    /// returning memory is never worth stopping the balancer for.
    /// </summary>
    public IDisposable Start(IScheduler scheduler, Action<long, long> trimmed) =>
        Observable.Interval(Period, scheduler).Subscribe(_ =>
        {
            try
            {
                var before = Environment.WorkingSet;
                if (Check())
                {
                    trimmed(before, Environment.WorkingSet);
                }
            }
            catch (Exception exception) when (exception is IOException or ObjectDisposedException or InvalidOperationException)
            {
            }
        });

    /// <summary>Trims when enough connections closed since the peak; true when it did.</summary>
    internal bool Check()
    {
        var open = openConnections();
        _peak = Math.Max(_peak, open);
        if (_peak - open < MinimumDrop || open > _peak / 4)
        {
            return false;
        }

        trim();
        _peak = open;
        return true;
    }
}
