using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Health;
using LoadBalancer.Reactive.Tests.Infrastructure;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Health;

/// <summary>When probes run and what is reported, in virtual time with a stand-in probe.</summary>
public class ActiveHealthCheckerTests
{
    private static readonly HealthCheckOptions s_everyTwoSeconds = new() { Interval = TimeSpan.FromSeconds(2) };
    private readonly TestScheduler _scheduler = new();
    private readonly List<(double Second, HealthProbed Result)> _reported = [];

    [Fact]
    public void Probes_StartOneIntervalInAndRepeatEveryInterval()
    {
        using var checker = Start(s_everyTwoSeconds, (_, _, _) => Task.FromResult(true));

        _scheduler.AdvanceTo(TimeSpan.FromSeconds(7).Ticks);

        Assert.Equal([2.0, 4.0, 6.0], _reported.Select(r => r.Second));
        Assert.All(_reported, r => Assert.True(r.Result.Healthy));
    }

    [Fact]
    public async Task SlowProbe_TheNextStartsAnIntervalAfterItFinishes()
    {
        // Each probe takes half a second of virtual time.
        using var checker = Start(s_everyTwoSeconds, (_, _, _) =>
        {
            var done = new TaskCompletionSource<bool>();
            _scheduler.At(_scheduler.Clock + TimeSpan.FromSeconds(0.5).Ticks, () => done.SetResult(false));
            return done.Task;
        });

        // Off xunit's synchronization context, the probe's continuation runs inline when it completes,
        // inside virtual time, as it would under any scheduler without one.
        await Task.Run(() => _scheduler.AdvanceTo(TimeSpan.FromSeconds(8).Ticks)).WaitAsync(Loopback.Timeout);

        Assert.Equal([2.5, 5.0, 7.5], _reported.Select(r => r.Second));
        Assert.All(_reported, r => Assert.False(r.Result.Healthy));
    }

    [Fact]
    public void ProbeThatThrows_CountsAsUnhealthy()
    {
        using var checker = Start(s_everyTwoSeconds, (_, _, _) => throw new InvalidOperationException("probe bug"));

        _scheduler.AdvanceTo(TimeSpan.FromSeconds(4).Ticks);

        Assert.Equal([(2.0, false), (4.0, false)], _reported.Select(r => (r.Second, r.Result.Healthy)));
    }

    [Fact]
    public void DisabledChecks_AreNotRun_AndEachBackendHasItsOwnInterval()
    {
        var backends = State(3).Backends;
        using var checker = new ActiveHealthChecker(
            [
                (backends[0], s_everyTwoSeconds),
                (backends[1], s_everyTwoSeconds with { Enabled = false }),
                (backends[2], s_everyTwoSeconds with { Interval = TimeSpan.FromSeconds(3) }),
            ],
            _scheduler,
            (_, _, _) => Task.FromResult(true),
            result => _reported.Add((TimeSpan.FromTicks(_scheduler.Clock).TotalSeconds, result)));

        _scheduler.AdvanceTo(TimeSpan.FromSeconds(6).Ticks);

        // At 6 s both are due; the one scheduled first (at 3 s) runs first.
        Assert.Equal(
            [(2.0, backends[0].Address), (3.0, backends[2].Address), (4.0, backends[0].Address), (6.0, backends[2].Address), (6.0, backends[0].Address)],
            _reported.Select(r => (r.Second, r.Result.Backend)));
    }

    [Fact]
    public void Dispose_StopsProbing()
    {
        var checker = Start(s_everyTwoSeconds, (_, _, _) => Task.FromResult(true));
        _scheduler.AdvanceTo(TimeSpan.FromSeconds(3).Ticks);

        checker.Dispose();
        _scheduler.AdvanceTo(TimeSpan.FromSeconds(10).Ticks);

        Assert.Single(_reported);
    }

    private ActiveHealthChecker Start(HealthCheckOptions options, Func<BackendSnapshot, HealthCheckOptions, CancellationToken, Task<bool>> probe) =>
        new([(State(1).Backends[0], options)], _scheduler, probe,
            result => _reported.Add((TimeSpan.FromTicks(_scheduler.Clock).TotalSeconds, result)));
}
