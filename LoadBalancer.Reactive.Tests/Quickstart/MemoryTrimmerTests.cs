using Microsoft.Reactive.Testing;
using Quickstart;

namespace LoadBalancer.Reactive.Tests.Quickstart;

/// <summary>The Quickstart returns memory once a wave of connections has closed, and only then (virtual time).</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public sealed class MemoryTrimmerTests
{
    private long _open;
    private int _trims;

    [Fact]
    public void Check_AfterAWaveClosed_TrimsOnce_AndTheRestIsTheNewPeak()
    {
        var trimmer = new MemoryTrimmer(() => _open, () => _trims++);

        Assert.Equal([false, false, false, false, true, false, false], Checks(trimmer, 0, 1500, 5000, 2000, 1200, 600, 300));
        Assert.Equal(1, _trims);
    }

    [Theory]
    [InlineData(new long[] { 50, 900, 0 })]            // fewer than a thousand closed: not worth a pause
    [InlineData(new long[] { 4000, 1500, 1100 })]      // more than a quarter of the peak still open
    [InlineData(new long[] { 2000, 2100, 2050, 1990 })] // steady load
    public void Check_SmallWavesAndSteadyLoad_NeverTrim(long[] open)
    {
        var trimmer = new MemoryTrimmer(() => _open, () => _trims++);

        Assert.DoesNotContain(true, Checks(trimmer, open));
        Assert.Equal(0, _trims);
    }

    [Fact]
    public void Start_ChecksOncePerPeriodOnTheScheduler_AndReportsEachTrim()
    {
        var scheduler = new TestScheduler();
        var reports = 0;
        using var running = new MemoryTrimmer(() => _open, () => _trims++).Start(scheduler, (_, _) => reports++);

        _open = 3000;
        scheduler.AdvanceBy(MemoryTrimmer.Period.Ticks);
        _open = 10;
        scheduler.AdvanceBy(MemoryTrimmer.Period.Ticks - 1);
        Assert.Equal(0, _trims);

        scheduler.AdvanceBy(1);
        Assert.Equal((1, 1), (_trims, reports));
        scheduler.AdvanceBy(MemoryTrimmer.Period.Ticks * 10);
        Assert.Equal(1, _trims);
    }

    [Fact]
    public void Start_AReportThatThrows_IsSkipped_AndLaterWavesAreStillTrimmed()
    {
        var scheduler = new TestScheduler();
        using var running = new MemoryTrimmer(() => _open, () => _trims++).Start(scheduler, (_, _) => throw new IOException("stdout is closed"));

        foreach (var open in new long[] { 3000, 0, 2000, 0 })
        {
            _open = open;
            scheduler.AdvanceBy(MemoryTrimmer.Period.Ticks);
        }

        Assert.Equal(2, _trims);
    }

    [Fact]
    public void Collect_IsAGcRequestTheRuntimeAccepts()
    {
        var before = GC.CollectionCount(GC.MaxGeneration);

        MemoryTrimmer.Collect();

        Assert.True(GC.CollectionCount(GC.MaxGeneration) > before);
    }

    private bool[] Checks(MemoryTrimmer trimmer, params long[] open) =>
        [.. open.Select(count =>
        {
            _open = count;
            return trimmer.Check();
        })];
}
