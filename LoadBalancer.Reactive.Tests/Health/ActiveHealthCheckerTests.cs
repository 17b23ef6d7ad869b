using System.Reactive.Threading.Tasks;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Health;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;
using static LoadBalancer.Reactive.Tests.Infrastructure.VirtualTime;

namespace LoadBalancer.Reactive.Tests.Health;

/// <summary>When probes run and what is reported, in virtual time with a stand-in probe.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class ActiveHealthCheckerTests
{
    private static readonly HealthCheckOptions s_everyTwoSeconds = new() { Interval = TimeSpan.FromSeconds(2) };
    private readonly TestScheduler _scheduler = new();
    private readonly ITestableObserver<HealthProbed> _reported;

    public ActiveHealthCheckerTests() => _reported = _scheduler.CreateObserver<HealthProbed>();

    [Fact]
    public void Probes_StartOneIntervalInAndRepeatEveryInterval()
    {
        using var checker = Start(s_everyTwoSeconds, (_, _, _) => Task.FromResult(true));

        _scheduler.AdvanceTo(Seconds(7));

        Assert.Equal([2.0, 4.0, 6.0], _reported.Values().Select(r => r.Second));
        Assert.All(_reported.Values(), r => Assert.True(r.Value.Healthy));
    }

    [Fact]
    public async Task SlowProbe_TheNextStartsAnIntervalAfterItFinishes()
    {
        // Each probe is a cold observable that answers "unhealthy" half a second after it is subscribed to.
        var probe = _scheduler.CreateColdObservable(
            ReactiveTest.OnNext(Seconds(0.5), false), ReactiveTest.OnCompleted<bool>(Seconds(0.5)));
        using var checker = Start(s_everyTwoSeconds, (_, _, _) => probe.ToTask());

        // Off xunit's synchronization context, the probe's continuation runs inline when it completes,
        // inside virtual time, as it would under any scheduler without one.
        await Task.Run(() => _scheduler.AdvanceTo(Seconds(8))).WaitAsync(Loopback.Timeout);

        Assert.Equal([2.5, 5.0, 7.5], _reported.Values().Select(r => r.Second));
        Assert.All(_reported.Values(), r => Assert.False(r.Value.Healthy));
        Assert.Equal([2.0, 4.5, 7.0], probe.Subscriptions.Select(s => InSeconds(s.Subscribe)));
    }

    [Fact]
    public void ProbeThatThrows_CountsAsUnhealthy()
    {
        using var checker = Start(s_everyTwoSeconds, (_, _, _) => throw new InvalidOperationException("probe bug"));

        _scheduler.AdvanceTo(Seconds(4));

        Assert.Equal([(2.0, false), (4.0, false)], _reported.Values().Select(r => (r.Second, r.Value.Healthy)));
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
            _reported.OnNext);

        _scheduler.AdvanceTo(Seconds(6));

        // At 6 s both are due; the one scheduled first (at 3 s) runs first.
        Assert.Equal(
            [(2.0, backends[0].Address), (3.0, backends[2].Address), (4.0, backends[0].Address), (6.0, backends[2].Address), (6.0, backends[0].Address)],
            _reported.Values().Select(r => (r.Second, r.Value.Backend)));
    }

    [Fact]
    public void Dispose_StopsProbing()
    {
        var checker = Start(s_everyTwoSeconds, (_, _, _) => Task.FromResult(true));
        _scheduler.AdvanceTo(Seconds(3));

        checker.Dispose();
        _scheduler.AdvanceTo(Seconds(10));

        Assert.Equal([2.0], _reported.Values().Select(r => r.Second));
    }

    [Fact]
    public void DisabledBackend_IsNotProbed_UntilEnabled()
    {
        var backend = State(1).Backends[0];
        var catalog = new BackendCatalog([BalancerModel.Define(new BackendOptions(backend.Address), s_everyTwoSeconds, "Backend", [])]);
        using var checker = Start(s_everyTwoSeconds, (_, _, _) => Task.FromResult(true));
        _scheduler.AdvanceTo(Seconds(3));

        checker.Follow(new Step(State(1), null, [new MembershipChange(0, backend with { Disabled = true }, MembershipChangeKind.Disabled)]), catalog);
        _scheduler.AdvanceTo(Seconds(9));
        checker.Follow(new Step(State(1), null, [new MembershipChange(0, backend, MembershipChangeKind.Enabled)]), catalog);
        _scheduler.AdvanceTo(Seconds(12));

        Assert.Equal([2.0, 11.0], _reported.Values().Select(r => r.Second));
    }

    [Fact]
    public void Reconfigure_ChangedCheck_RestartsTheProbeWithTheNewSettings_OneNewIntervalLater()
    {
        var backend = State(1).Backends[0];
        var catalog = Catalog(backend.Address, s_everyTwoSeconds);
        var sent = new List<string?>();
        using var checker = Start(s_everyTwoSeconds, (_, options, _) =>
        {
            sent.Add(options.Send);
            return Task.FromResult(true);
        });
        _scheduler.AdvanceTo(Seconds(5));

        catalog.Put(Definition(backend.Address, new HealthCheckOptions { Interval = TimeSpan.FromSeconds(1), Send = "PING" }));
        checker.Reconfigure([backend], catalog);
        _scheduler.AdvanceTo(Seconds(8));

        Assert.Equal([2.0, 4.0, 6.0, 7.0, 8.0], _reported.Values().Select(r => r.Second));
        Assert.Equal([null, null, "PING", "PING", "PING"], sent);
    }

    [Fact]
    public void Reconfigure_SameCheck_LeavesTheScheduleAlone_AndATurnedOffCheckStopsProbing()
    {
        var backend = State(1).Backends[0];
        var catalog = Catalog(backend.Address, s_everyTwoSeconds);
        using var checker = Start(s_everyTwoSeconds, (_, _, _) => Task.FromResult(true));
        _scheduler.AdvanceTo(Seconds(3));

        checker.Reconfigure([backend], catalog);
        _scheduler.AdvanceTo(Seconds(5));
        catalog.Put(Definition(backend.Address, s_everyTwoSeconds with { Enabled = false }));
        checker.Reconfigure([backend], catalog);
        _scheduler.AdvanceTo(Seconds(20));

        Assert.Equal([2.0, 4.0], _reported.Values().Select(r => r.Second));
    }

    [Fact]
    public void Reconfigure_CheckTurnedOn_StartsProbing_ButNotABackendInMaintenance()
    {
        var (backend, disabled) = (State(2).Backends[0], State(2).Backends[1] with { Disabled = true });
        var catalog = Catalog(backend.Address, s_everyTwoSeconds);
        catalog.Put(Definition(disabled.Address, s_everyTwoSeconds));
        using var checker = Start(s_everyTwoSeconds with { Enabled = false }, (_, _, _) => Task.FromResult(true));

        checker.Reconfigure([backend, disabled], catalog);
        _scheduler.AdvanceTo(Seconds(4));

        Assert.Equal([(2.0, backend.Address), (4.0, backend.Address)], _reported.Values().Select(r => (r.Second, r.Value.Backend)));
    }

    private static BackendCatalog Catalog(string address, HealthCheckOptions options) => new([Definition(address, options)]);

    private static BackendDefinition Definition(string address, HealthCheckOptions options) =>
        new(address, System.Net.IPEndPoint.Parse(address), ProxyProtocolVersion.None, Tls: null, options);

    [Fact]
    public void DisabledBackendMovedToDrain_IsProbedAgain()
    {
        var backend = State(1).Backends[0];
        var catalog = new BackendCatalog([BalancerModel.Define(new BackendOptions(backend.Address), s_everyTwoSeconds, "Backend", [])]);
        using var checker = Start(s_everyTwoSeconds, (_, _, _) => Task.FromResult(true));
        checker.Follow(new Step(State(1), null, [new MembershipChange(0, backend with { Disabled = true }, MembershipChangeKind.Disabled)]), catalog);
        _scheduler.AdvanceTo(Seconds(5));

        checker.Follow(new Step(State(1), null, [new MembershipChange(0, backend with { Draining = true }, MembershipChangeKind.DrainStarted)]), catalog);
        _scheduler.AdvanceTo(Seconds(8));

        Assert.Equal([7.0], _reported.Values().Select(r => r.Second));
    }

    private ActiveHealthChecker Start(HealthCheckOptions options, Func<BackendSnapshot, HealthCheckOptions, CancellationToken, Task<bool>> probe) =>
        new([(State(1).Backends[0], options)], _scheduler, probe, _reported.OnNext);
}
