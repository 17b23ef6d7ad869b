using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Testing;
using Microsoft.Reactive.Testing;

namespace StrategyTesting;

/// <summary>
/// Testing a strategy the way the balancer runs it: the real fold, fed a timeline of arrivals and
/// releases on Microsoft.Reactive.Testing's <see cref="TestScheduler"/>, the way Rx operators are tested.
/// No sockets, no waiting: a simulated hour takes milliseconds. Its ticks are <see cref="TimeSpan"/> ticks.
/// </summary>
// Virtual time only, no sockets: the repository's fast tests, run alone with --filter Category=VirtualTime.
[Trait("Category", "VirtualTime")]
public class FillFirstStrategyTests : ReactiveTest
{
    private static readonly BackendOptions[] s_backends =
        [new("10.0.0.1:5432"), new("10.0.0.2:5432"), new("10.0.0.3:5432")];

    [Fact]
    public void ScriptedTimeline_FillsTheFirstBackendThenSpillsOver()
    {
        var scheduler = new TestScheduler();

        // Three connections arrive a second apart; the first ends at 10 s, then a fourth arrives. OnNext is told
        // the element type, so one timeline can mix arrivals and ends.
        var timeline = scheduler.CreateHotObservable(
            OnNext<BalancerInput>(Seconds(1), new ConnectionArrived(1)),
            OnNext<BalancerInput>(Seconds(2), new ConnectionArrived(2)),
            OnNext<BalancerInput>(Seconds(3), new ConnectionArrived(3)),
            OnNext<BalancerInput>(Seconds(10), new ConnectionEnded(1)),
            OnNext<BalancerInput>(Seconds(11), new ConnectionArrived(4)));

        // Start subscribes at tick 200 and, here, disposes a minute in; it records every notification with its time.
        var placed = scheduler.Start(
            () => BalancingFold.Run(timeline, s_backends, new FillFirstStrategy(limit: 2))
                .Select(step => step.Decision)
                .OfType<Assignment>()
                .Select(assignment => assignment.Backend.Address),
            disposed: Seconds(60));

        Assert.Equal(
            [
                OnNext(Seconds(1), "10.0.0.1:5432"),
                OnNext(Seconds(2), "10.0.0.1:5432"),
                OnNext(Seconds(3), "10.0.0.2:5432"),
                OnNext(Seconds(11), "10.0.0.1:5432"),
            ],
            placed.Messages);
        // The fold subscribed to the timeline once, and let go of it when it was disposed.
        Assert.Equal([Subscribe(Subscribed, Seconds(60))], timeline.Subscriptions);
    }

    [Fact]
    public void GeneratedWorkload_NeverPutsMoreThanTheLimitOnABackendWhileAnotherHasRoom()
    {
        // An hour of Poisson arrivals (about 2 a second) with exponential durations (mean 1 s), on virtual
        // time: the arrivals are a cold timeline, and each connection's end is scheduled when it is placed.
        var scheduler = new TestScheduler();
        var arrivalGaps = new Random(7);
        var durations = new Random(8);
        var second = 0.0;
        var arrivals = scheduler.CreateColdObservable(
        [
            .. Enumerable.Range(1, 7_200).Select(id =>
            {
                second += -Math.Log(1 - arrivalGaps.NextDouble()) / 2;
                return OnNext<BalancerInput>(TimeSpan.FromSeconds(second).Ticks, new ConnectionArrived(id));
            }),
        ]);
        var ends = new Subject<BalancerInput>();
        var steps = scheduler.CreateObserver<BalancingStep>();

        using var run = BalancingFold.Run(arrivals.Merge(ends), s_backends, new FillFirstStrategy(limit: 3))
            .Do(step =>
            {
                if (step.Decision is Assignment assignment)
                {
                    var duration = TimeSpan.FromSeconds(-Math.Log(1 - durations.NextDouble()));
                    scheduler.Schedule(duration, () => ends.OnNext(new ConnectionEnded(assignment.ConnectionId)));
                }
            })
            .Subscribe(steps);
        scheduler.Start();

        var violations = steps.Messages
            .Select(message => message.Value.Value)
            .Where(step => step.Decision is Assignment { Backend: var placedOn }
                && placedOn.ActiveConnections > 3
                && step.Snapshot.Backends.Any(b => b.Address != placedOn.Address && b.ActiveConnections < 3));
        Assert.Empty(violations);
        Assert.Equal(2 * 7_200, steps.Messages.Count);
    }

    [Fact]
    public void BuiltInStrategiesAreTestedTheSameWay_ByName()
    {
        // Seven arrivals on a cold timeline, 10 ticks apart from the subscription (at tick 200), then its end.
        var scheduler = new TestScheduler();
        var arrivals = scheduler.CreateColdObservable(
        [
            .. Enumerable.Range(1, 7).Select(id => OnNext<BalancerInput>(id * 10, new ConnectionArrived(id))),
            OnCompleted<BalancerInput>(80),
        ]);
        BackendOptions[] weighted = [new("10.0.0.1:80", weight: 5), new("10.0.0.2:80"), new("10.0.0.3:80")];

        var picks = scheduler.Start(() => BalancingFold.Run(arrivals, weighted, LoadBalancingStrategies.WeightedRoundRobin)
            .Select(step => ((Assignment)step.Decision!).BackendIndex));

        Assert.Equal(
            [
                OnNext(210, 0), OnNext(220, 0), OnNext(230, 1), OnNext(240, 0), OnNext(250, 2), OnNext(260, 0), OnNext(270, 0),
                OnCompleted<int>(280),
            ],
            picks.Messages);
    }

    private static long Seconds(int seconds) => TimeSpan.FromSeconds(seconds).Ticks;
}
