using System.Reactive.Concurrency;

namespace LoadBalancer.Reactive.Tests.Infrastructure;

/// <summary>
/// Virtual time in ticks (1 tick = 100 ns, as <see cref="TimeSpan"/>), standing in for
/// Microsoft.Reactive.Testing's scheduler, which cannot be restored here. Nothing waits: <c>Start()</c>
/// runs everything scheduled, in time order, and the clock jumps from one due time to the next.
/// </summary>
public sealed class TestScheduler : VirtualTimeScheduler<long, long>
{
    /// <summary>Runs <paramref name="action"/> at the absolute virtual time <paramref name="tick"/>.</summary>
    public void At(long tick, Action action) => ScheduleAbsolute(action, tick, static (_, run) =>
    {
        run();
        return System.Reactive.Disposables.Disposable.Empty;
    });

    protected override long Add(long absolute, long relative) => absolute + relative;

    protected override DateTimeOffset ToDateTimeOffset(long absolute) => new(absolute, TimeSpan.Zero);

    protected override long ToRelative(TimeSpan timeSpan) => timeSpan.Ticks;
}
