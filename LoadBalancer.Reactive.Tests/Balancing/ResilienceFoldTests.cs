using System.Reactive;
using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Testing;
using Microsoft.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;
using static LoadBalancer.Reactive.Tests.Infrastructure.VirtualTime;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Health, ejection and retries in the fold, as timelines in virtual time.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class ResilienceFoldTests
{
    private const string A = "10.0.0.1:80";
    private const string B = "10.0.0.2:80";
    private const string C = "10.0.0.3:80";

    // Scripted connections whose connect fails when they land on the backend named here (see Run).
    private readonly Dictionary<long, string> _failsOn = [];

    [Fact]
    public void Probes_FallThenRise_ChangeHealthAtExactTicks()
    {
        var steps = Run(Options(A, B), Probes(A, (2, true), (4, false), (6, false), (8, false), (10, true), (12, false), (14, true), (16, true)));

        // Three failures in a row (4, 6, 8) mark it down; a failure at 12 restarts the rise, so it takes 14 and 16.
        Assert.Equal([(8.0, false), (16.0, true)], Changes<HealthChange>(steps).Select(c => (c.Second, c.Change.Backend.Healthy)));
    }

    [Fact]
    public void UnhealthyBackend_GetsNoConnections_UntilItRisesAgain()
    {
        var steps = Run(
            Options(A, B),
            [
                .. Probes(A, (2, false), (4, false), (6, false), (10, true), (12, true)),
                OnNext(Seconds(7), new ConnectionArrived(1)),
                OnNext(Seconds(8), new ConnectionArrived(2)),
                OnNext(Seconds(9), new ConnectionArrived(3)),
                OnNext(Seconds(13), new ConnectionArrived(4)),
            ]);

        Assert.Equal([(7.0, B), (8.0, B), (9.0, B), (13.0, A)], Assignments(steps).Select(a => (a.Second, a.Assignment.Backend.Address)));
    }

    [Fact]
    public void FiveFailuresInARow_EjectForThirtySeconds_AndTheSecondEjectionLastsSixty()
    {
        var steps = Run(
            Options(A, B, C) with { MaxConnectAttempts = 1, Strategy = LoadBalancingStrategies.RoundRobin },
            FailEveryConnectionTo(A, from: 1, count: 15, secondsApart: 1));

        // Round robin puts connections 1, 4, 7, 10, 13 on A: its fifth failure is at 13.5 s.
        var ejections = Changes<Ejection>(steps).Select(e => (e.Second, e.Change.Duration.TotalSeconds, e.Change.Backend.Ejections)).ToList();
        Assert.Equal((13.5, 30.0, 1), ejections[0]);
        Assert.Equal([(43.5, false)], Changes<EjectionEnded>(steps).Take(1).Select(e => (e.Second, e.Change.ByProbe)));
        Assert.All(Assignments(steps).Where(a => a.Second is > 13.5 and < 43.5), a => Assert.NotEqual(A, a.Assignment.Backend.Address));
    }

    [Fact]
    public void RepeatedEjections_GrowByTheBaseTime_UpToTheMaximum()
    {
        var outliers = new OutlierDetectionOptions { BaseEjectionTime = TimeSpan.FromSeconds(30), MaxEjectionTime = TimeSpan.FromSeconds(45) };
        var steps = Run(
            Options(A, B, C) with { MaxConnectAttempts = 1, OutlierDetection = outliers, CustomStrategy = new FirstAvailable() },
            [
                .. FailEveryConnectionTo(A, from: 1, count: 5, secondsApart: 1),      // ejected at 5.5 s for 30 s
                .. FailEveryConnectionTo(A, from: 100, count: 5, secondsApart: 1),    // back at 35.5 s; ejected again at 104.5 s
                .. FailEveryConnectionTo(A, from: 200, count: 5, secondsApart: 1),    // back at 149.5 s (capped at 45 s); again at 204.5 s
            ]);

        Assert.Equal(
            [(5.5, 30.0), (104.5, 45.0), (204.5, 45.0)],
            Changes<Ejection>(steps).Select(e => (e.Second, e.Change.Duration.TotalSeconds)));
        Assert.Equal([35.5, 149.5, 249.5], Changes<EjectionEnded>(steps).Select(e => e.Second));
    }

    [Fact]
    public void MaxEjectionPercent_KeepsTheSecondFailingBackendIn()
    {
        // Half of three backends is one and a half: only one may be out at a time.
        var steps = Run(
            Options(A, B, C) with { MaxConnectAttempts = 1, CustomStrategy = new FirstAvailable() },
            [.. ConnectAndFail(A, 1, 5, at: 1), .. ConnectAndFail(B, 101, 5, at: 10)]);

        Assert.Equal([A], Changes<Ejection>(steps).Select(e => e.Change.Backend.Address));
        Assert.Equal(5, Last(steps).Snapshot.Backends[1].ConsecutiveFailures);
    }

    [Fact]
    public void LastAvailableBackend_IsNeverEjected_UnlessConfigured()
    {
        var all = new OutlierDetectionOptions { MaxEjectionPercent = 100 };
        var options = Options(A, B) with { MaxConnectAttempts = 1, OutlierDetection = all, CustomStrategy = new FirstAvailable() };

        var kept = Run(options, [.. ConnectAndFail(A, 1, 5, at: 1), .. ConnectAndFail(B, 101, 5, at: 10)]);
        var ejected = Run(
            options with { OutlierDetection = all with { EjectLastAvailable = true } },
            [.. ConnectAndFail(A, 1001, 5, at: 100), .. ConnectAndFail(B, 1101, 5, at: 110)]);

        Assert.Equal([A], Changes<Ejection>(kept).Select(e => e.Change.Backend.Address));
        Assert.Equal([A, B], Changes<Ejection>(ejected).Select(e => e.Change.Backend.Address));
    }

    [Fact]
    public void SuccessfulProbe_EndsAnEjectionEarly()
    {
        var steps = Run(
            Options(A, B, C) with { MaxConnectAttempts = 1, CustomStrategy = new FirstAvailable() },
            [.. ConnectAndFail(A, 1, 5, at: 1), .. Probes(A, (12, true))]);

        Assert.Equal([(12.0, true)], Changes<EjectionEnded>(steps).Select(e => (e.Second, e.Change.ByProbe)));
    }

    [Fact]
    public void ASuccess_BreaksTheRunOfFailures()
    {
        var steps = Run(
            Options(A, B, C) with { MaxConnectAttempts = 1, CustomStrategy = new FirstAvailable() },
            [
                .. ConnectAndFail(A, 1, 4, at: 1),
                OnNext(Seconds(20), new ConnectionArrived(50)),
                OnNext(Seconds(20.5), new ConnectionEnded(50)),
                .. ConnectAndFail(A, 101, 4, at: 30),
            ]);

        Assert.Empty(Changes<Ejection>(steps));
        Assert.Equal(4, Last(steps).Snapshot.Backends[0].ConsecutiveFailures);
        Assert.Equal(8, Last(steps).Snapshot.Backends[0].FailedConnections);
    }

    [Fact]
    public void BackendResetBeforeAnyByte_CountsTowardsEjection_ThoughEveryConnectSucceeded()
    {
        var steps = Run(
            Options(A, B, C) with { CustomStrategy = new FirstAvailable() },
            [.. Enumerable.Range(1, 5).SelectMany(id => new[]
            {
                OnNext(Seconds(id), new ConnectionArrived(id)),
                OnNext(Seconds(id + 0.5), new ConnectionEnded(id, BackendFailed: true)),
            })]);

        Assert.Equal([(5.5, A)], Changes<Ejection>(steps).Select(e => (e.Second, e.Change.Backend.Address)));
    }

    [Fact]
    public void ConnectFailures_AreRetriedOnUntriedBackendsInStrategyOrder_ThenFail()
    {
        var steps = Run(
            Options(A, B, C) with { Strategy = LoadBalancingStrategies.RoundRobin },
            OnNext(Seconds(1), new ConnectionArrived(1)),
            OnNext(Seconds(2), new ConnectFailed(1)),
            OnNext(Seconds(3), new ConnectFailed(1)),
            OnNext(Seconds(4), new ConnectFailed(1)));

        Assert.Equal([(A, 1), (B, 2), (C, 3)], Assignments(steps).Select(a => (a.Assignment.Backend.Address, a.Assignment.Attempt)));
        var failure = Assert.IsType<GiveUp>(Last(steps).Decision);
        Assert.Equal((C, 3), (failure.Backend.Address, failure.Attempts));
        Assert.All(Last(steps).Snapshot.Backends, backend => Assert.Equal(0, backend.ActiveConnections));
    }

    [Fact]
    public void Retries_StopAtMaxConnectAttempts_AndSkipTriedBackendsEvenWhenIdlest()
    {
        var steps = Run(
            Options(A, B, C) with { MaxConnectAttempts = 2 },
            OnNext(Seconds(1), new ConnectionArrived(1)),
            OnNext(Seconds(2), new ConnectFailed(1)),
            OnNext(Seconds(3), new ConnectFailed(1)));

        // A is the idlest again after its failure, but it was tried: the retry goes to B or C, tied, and ties
        // rotate over those two (the second decision takes the second of them).
        Assert.Equal([(A, 1), (C, 2)], Assignments(steps).Select(a => (a.Assignment.Backend.Address, a.Assignment.Attempt)));
        Assert.Equal(2, Assert.IsType<GiveUp>(Last(steps).Decision).Attempts);
    }

    [Fact]
    public void NothingAvailable_RejectsByDefault_PanicModeUsesEveryBackend()
    {
        var fallOnce = new HealthCheckOptions { Fall = 1 };

        var strict = Run(
            Options(A, B) with { HealthCheck = fallOnce },
            [.. Probes(A, (1, false)), .. Probes(B, (1, false)), OnNext(Seconds(2), new ConnectionArrived(1))]);
        var panicking = Run(
            Options(A, B) with { HealthCheck = fallOnce, PanicMode = true },
            [.. Probes(A, (10, false)), .. Probes(B, (10, false)), OnNext(Seconds(11), new ConnectionArrived(2))]);

        Assert.Equal(RejectionReason.NoBackendAvailable, Assert.IsType<Rejection>(Last(strict).Decision).Reason);
        Assert.IsType<Assignment>(Last(panicking).Decision);
    }

    private static LoadBalancerOptions Options(params string[] backends) =>
        new() { Backends = [.. backends.Select(address => new BackendOptions(address))] };

    /// <summary>
    /// Runs the fold over <paramref name="timeline"/> on a scheduler of its own and returns every step with its second.
    /// The loop is closed as in a balancer: half a second after a scripted connection is placed, its connect fails if
    /// it landed on the backend the test fails, and it ends cleanly otherwise.
    /// </summary>
    private List<(double Second, BalancingStep Step)> Run(LoadBalancerOptions options, params Recorded<Notification<BalancerInput>>[] timeline)
    {
        var scheduler = new TestScheduler();
        var events = scheduler.CreateHotObservable(timeline);
        var outcomes = new Subject<BalancerInput>();

        var results = scheduler.StartFold(() => BalancingFold.Run(events.Merge(outcomes), options, scheduler).Do(step =>
        {
            if (step.Decision is Assignment placed && _failsOn.TryGetValue(placed.ConnectionId, out var failing))
            {
                BalancerInput outcome = placed.Backend.Address == failing ? new ConnectFailed(placed.ConnectionId) : new ConnectionEnded(placed.ConnectionId);
                scheduler.Schedule(TimeSpan.FromSeconds(0.5), () => outcomes.OnNext(outcome));
            }
        }));

        Assert.Equal([ReactiveTest.Subscribe(1, OneHour)], events.Subscriptions);
        return results.Values();
    }

    private static Recorded<Notification<BalancerInput>>[] Probes(string backend, params (double Second, bool Healthy)[] results) =>
        [.. results.Select(result => OnNext(Seconds(result.Second), new HealthProbed(backend, result.Healthy)))];

    // Connections one second apart, each failing half a second after it arrives, without retries;
    // only those the strategy put on the given backend count against it.
    private Recorded<Notification<BalancerInput>>[] FailEveryConnectionTo(string backend, int from, int count, int secondsApart) =>
        [.. Enumerable.Range(0, count * 3).Select(i => Scripted(from + i, from + (i * secondsApart), backend))];

    // Connections that fail to connect when they land on the given backend (tests pin them there with
    // FirstAvailable) and otherwise end cleanly.
    private Recorded<Notification<BalancerInput>>[] ConnectAndFail(string backend, int firstId, int count, double at) =>
        [.. Enumerable.Range(0, count).Select(i => Scripted(firstId + i, at + i, backend))];

    private Recorded<Notification<BalancerInput>> Scripted(long id, double second, string failingBackend)
    {
        _failsOn[id] = failingBackend;
        return OnNext(Seconds(second), new ConnectionArrived(id));
    }

    private static IEnumerable<(double Second, T Change)> Changes<T>(List<(double Second, BalancingStep Step)> steps) where T : BackendChange =>
        steps.SelectMany(s => s.Step.Changes.OfType<T>().Select(c => (s.Second, c)));

    private static IEnumerable<(double Second, Assignment Assignment)> Assignments(List<(double Second, BalancingStep Step)> steps) =>
        steps.Where(s => s.Step.Decision is Assignment).Select(s => (s.Second, (Assignment)s.Step.Decision!));

    private static BalancingStep Last(List<(double Second, BalancingStep Step)> steps) => steps[^1].Step;

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
