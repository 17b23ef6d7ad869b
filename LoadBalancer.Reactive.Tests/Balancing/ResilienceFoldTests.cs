using System.Reactive.Subjects;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Testing;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Health, ejection and retries in the fold, as timelines in virtual time.</summary>
public class ResilienceFoldTests
{
    private const string A = "10.0.0.1:80";
    private const string B = "10.0.0.2:80";
    private const string C = "10.0.0.3:80";

    private readonly TestScheduler _scheduler = new();
    private readonly Subject<BalancerInput> _events = new();
    private readonly List<(double Second, BalancingStep Step)> _steps = [];

    [Fact]
    public void Probes_FallThenRise_ChangeHealthAtExactTicks()
    {
        Run(Options(A, B));
        Probes(A, (2, true), (4, false), (6, false), (8, false), (10, true), (12, false), (14, true), (16, true));

        _scheduler.Start();

        // Three failures in a row (4, 6, 8) mark it down; a failure at 12 restarts the rise, so it takes 14 and 16.
        Assert.Equal([(8.0, false), (16.0, true)], Changes<HealthChange>().Select(c => (c.Second, c.Change.Backend.Healthy)));
    }

    [Fact]
    public void UnhealthyBackend_GetsNoConnections_UntilItRisesAgain()
    {
        Run(Options(A, B));
        Probes(A, (2, false), (4, false), (6, false), (10, true), (12, true));
        At(7, new ConnectionArrived(1));
        At(8, new ConnectionArrived(2));
        At(9, new ConnectionArrived(3));
        At(13, new ConnectionArrived(4));

        _scheduler.Start();

        Assert.Equal([(7.0, B), (8.0, B), (9.0, B), (13.0, A)], Assignments().Select(a => (a.Second, a.Assignment.Backend.Address)));
    }

    [Fact]
    public void FiveFailuresInARow_EjectForThirtySeconds_AndTheSecondEjectionLastsSixty()
    {
        Run(Options(A, B, C) with { MaxConnectAttempts = 1, Strategy = LoadBalancingStrategies.RoundRobin });
        FailEveryConnectionTo(A, from: 1, count: 15, secondsApart: 1);

        _scheduler.Start();

        // Round robin puts connections 1, 4, 7, 10, 13 on A: its fifth failure is at 13.5 s.
        var ejections = Changes<Ejection>().Select(e => (e.Second, e.Change.Duration.TotalSeconds, e.Change.Backend.Ejections)).ToList();
        Assert.Equal((13.5, 30.0, 1), ejections[0]);
        Assert.Equal([(43.5, false)], Changes<EjectionEnded>().Take(1).Select(e => (e.Second, e.Change.ByProbe)));
        Assert.All(Assignments().Where(a => a.Second is > 13.5 and < 43.5), a => Assert.NotEqual(A, a.Assignment.Backend.Address));
    }

    [Fact]
    public void RepeatedEjections_GrowByTheBaseTime_UpToTheMaximum()
    {
        var outliers = new OutlierDetectionOptions { BaseEjectionTime = TimeSpan.FromSeconds(30), MaxEjectionTime = TimeSpan.FromSeconds(45) };
        Run(Options(A, B, C) with { MaxConnectAttempts = 1, OutlierDetection = outliers, CustomStrategy = new FirstAvailable() });
        FailEveryConnectionTo(A, from: 1, count: 5, secondsApart: 1);      // ejected at 5.5 s for 30 s
        FailEveryConnectionTo(A, from: 100, count: 5, secondsApart: 1);    // back at 35.5 s; ejected again at 104.5 s
        FailEveryConnectionTo(A, from: 200, count: 5, secondsApart: 1);    // back at 149.5 s (capped at 45 s); again at 204.5 s

        _scheduler.Start();

        Assert.Equal(
            [(5.5, 30.0), (104.5, 45.0), (204.5, 45.0)],
            Changes<Ejection>().Select(e => (e.Second, e.Change.Duration.TotalSeconds)));
        Assert.Equal([35.5, 149.5, 249.5], Changes<EjectionEnded>().Select(e => e.Second));
    }

    [Fact]
    public void MaxEjectionPercent_KeepsTheSecondFailingBackendIn()
    {
        // Half of three backends is one and a half: only one may be out at a time.
        Run(Options(A, B, C) with { MaxConnectAttempts = 1, CustomStrategy = new FirstAvailable() });
        ConnectAndFail(A, 1, 5, at: 1);
        ConnectAndFail(B, 101, 5, at: 10);

        _scheduler.Start();

        Assert.Equal([A], Changes<Ejection>().Select(e => e.Change.Backend.Address));
        Assert.Equal(5, Last().Snapshot.Backends[1].ConsecutiveFailures);
    }

    [Fact]
    public void LastAvailableBackend_IsNeverEjected_UnlessConfigured()
    {
        var all = new OutlierDetectionOptions { MaxEjectionPercent = 100 };
        using (Run(Options(A, B) with { MaxConnectAttempts = 1, OutlierDetection = all, CustomStrategy = new FirstAvailable() }))
        {
            ConnectAndFail(A, 1, 5, at: 1);
            ConnectAndFail(B, 101, 5, at: 10);
            _scheduler.Start();
        }

        Assert.Equal([A], Changes<Ejection>().Select(e => e.Change.Backend.Address));

        _steps.Clear();
        Run(Options(A, B) with { MaxConnectAttempts = 1, OutlierDetection = all with { EjectLastAvailable = true }, CustomStrategy = new FirstAvailable() });
        ConnectAndFail(A, 1001, 5, at: 100);
        ConnectAndFail(B, 1101, 5, at: 110);
        _scheduler.Start();
        Assert.Equal([A, B], Changes<Ejection>().Select(e => e.Change.Backend.Address));
    }

    [Fact]
    public void SuccessfulProbe_EndsAnEjectionEarly()
    {
        Run(Options(A, B, C) with { MaxConnectAttempts = 1, CustomStrategy = new FirstAvailable() });
        ConnectAndFail(A, 1, 5, at: 1);
        Probes(A, (12, true));

        _scheduler.Start();

        Assert.Equal([(12.0, true)], Changes<EjectionEnded>().Select(e => (e.Second, e.Change.ByProbe)));
    }

    [Fact]
    public void ASuccess_BreaksTheRunOfFailures()
    {
        Run(Options(A, B, C) with { MaxConnectAttempts = 1, CustomStrategy = new FirstAvailable() });
        ConnectAndFail(A, 1, 4, at: 1);
        At(20, new ConnectionArrived(50));
        At(20.5, new ConnectionEnded(50));
        ConnectAndFail(A, 101, 4, at: 30);

        _scheduler.Start();

        Assert.Empty(Changes<Ejection>());
        Assert.Equal(4, Last().Snapshot.Backends[0].ConsecutiveFailures);
        Assert.Equal(8, Last().Snapshot.Backends[0].FailedConnections);
    }

    [Fact]
    public void BackendResetBeforeAnyByte_CountsTowardsEjection_ThoughEveryConnectSucceeded()
    {
        Run(Options(A, B, C) with { CustomStrategy = new FirstAvailable() });
        for (var id = 1; id <= 5; id++)
        {
            At(id, new ConnectionArrived(id));
            At(id + 0.5, new ConnectionEnded(id, BackendFailed: true));
        }

        _scheduler.Start();

        Assert.Equal([(5.5, A)], Changes<Ejection>().Select(e => (e.Second, e.Change.Backend.Address)));
    }

    [Fact]
    public void ConnectFailures_AreRetriedOnUntriedBackendsInStrategyOrder_ThenFail()
    {
        Run(Options(A, B, C) with { Strategy = LoadBalancingStrategies.RoundRobin });
        At(1, new ConnectionArrived(1));
        At(2, new ConnectFailed(1));
        At(3, new ConnectFailed(1));
        At(4, new ConnectFailed(1));

        _scheduler.Start();

        Assert.Equal([(A, 1), (B, 2), (C, 3)], Assignments().Select(a => (a.Assignment.Backend.Address, a.Assignment.Attempt)));
        var failure = Assert.IsType<GiveUp>(Last().Decision);
        Assert.Equal((C, 3), (failure.Backend.Address, failure.Attempts));
        Assert.All(Last().Snapshot.Backends, backend => Assert.Equal(0, backend.ActiveConnections));
    }

    [Fact]
    public void Retries_StopAtMaxConnectAttempts_AndSkipTriedBackendsEvenWhenIdlest()
    {
        Run(Options(A, B, C) with { MaxConnectAttempts = 2 });
        At(1, new ConnectionArrived(1));
        At(2, new ConnectFailed(1));
        At(3, new ConnectFailed(1));

        _scheduler.Start();

        // A is the idlest again after its failure, but it was tried: the retry goes to B or C, tied, and ties
        // rotate over those two (the second decision takes the second of them).
        Assert.Equal([(A, 1), (C, 2)], Assignments().Select(a => (a.Assignment.Backend.Address, a.Assignment.Attempt)));
        Assert.Equal(2, Assert.IsType<GiveUp>(Last().Decision).Attempts);
    }

    [Fact]
    public void NothingAvailable_RejectsByDefault_PanicModeUsesEveryBackend()
    {
        var fallOnce = new HealthCheckOptions { Fall = 1 };
        using (Run(Options(A, B) with { HealthCheck = fallOnce }))
        {
            Probes(A, (1, false));
            Probes(B, (1, false));
            At(2, new ConnectionArrived(1));
            _scheduler.Start();
        }

        Assert.Equal(RejectionReason.NoBackendAvailable, Assert.IsType<Rejection>(Last().Decision).Reason);

        _steps.Clear();
        Run(Options(A, B) with { HealthCheck = fallOnce, PanicMode = true });
        Probes(A, (10, false));
        Probes(B, (10, false));
        At(11, new ConnectionArrived(2));
        _scheduler.Start();
        Assert.IsType<Assignment>(Last().Decision);
    }

    private static LoadBalancerOptions Options(params string[] backends) =>
        new() { Backends = [.. backends.Select(address => new BackendOptions(address))] };

    private IDisposable Run(LoadBalancerOptions options) =>
        BalancingFold.Run(_events, options, _scheduler).Subscribe(step => _steps.Add((Seconds(_scheduler.Clock), step)));

    private void At(double second, BalancerInput @event) =>
        _scheduler.At(TimeSpan.FromSeconds(second).Ticks, () => _events.OnNext(@event));

    private void Probes(string backend, params (double Second, bool Healthy)[] results)
    {
        foreach (var (second, healthy) in results)
        {
            At(second, new HealthProbed(backend, healthy));
        }
    }

    // Connections one second apart, each failing half a second after it arrives, without retries;
    // only those the strategy put on the given backend count against it.
    private void FailEveryConnectionTo(string backend, int from, int count, int secondsApart)
    {
        for (var i = 0; i < count * 3; i++)
        {
            var id = from + i;
            var second = from + (i * secondsApart);
            At(second, new ConnectionArrived(id));
            _scheduler.At(TimeSpan.FromSeconds(second + 0.5).Ticks, () =>
            {
                var placed = _steps.Select(s => s.Step.Decision).OfType<Assignment>().Last(a => a.ConnectionId == id);
                _events.OnNext(placed.Backend.Address == backend ? new ConnectFailed(id) : new ConnectionEnded(id));
            });
        }
    }

    // Connections that fail to connect when they land on the given backend (tests pin them there with
    // FirstAvailable) and otherwise end cleanly.
    private void ConnectAndFail(string backend, int firstId, int count, double at)
    {
        for (var i = 0; i < count; i++)
        {
            var id = firstId + i;
            var second = at + i;
            At(second, new ConnectionArrived(id));
            _scheduler.At(TimeSpan.FromSeconds(second + 0.5).Ticks, () =>
            {
                var placed = _steps.Select(s => s.Step.Decision).OfType<Assignment>().Last(a => a.ConnectionId == id);
                _events.OnNext(placed.Backend.Address == backend ? new ConnectFailed(id) : new ConnectionEnded(id));
            });
        }
    }

    private IEnumerable<(double Second, T Change)> Changes<T>() where T : BackendChange =>
        _steps.SelectMany(s => s.Step.Changes.OfType<T>().Select(c => (s.Second, c)));

    private IEnumerable<(double Second, Assignment Assignment)> Assignments() =>
        _steps.Where(s => s.Step.Decision is Assignment).Select(s => (s.Second, (Assignment)s.Step.Decision!));

    private BalancingStep Last() => _steps[^1].Step;

    private static double Seconds(long ticks) => TimeSpan.FromTicks(ticks).TotalSeconds;

    /// <summary>Always the first available backend, so a test decides which backend a connection lands on.</summary>
    private sealed class FirstAvailable : ILoadBalancingStrategy
    {
        public int Pick(in BalancingContext context)
        {
            for (var i = 0; i < context.Backends.Length; i++)
            {
                if (context.Backends[i].Available)
                {
                    return i;
                }
            }

            return BalancingContext.None;
        }
    }
}
