using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Testing;

namespace StrategyTesting;

/// <summary>
/// Testing a strategy the way the balancer runs it: the real fold, fed a timeline of arrivals and
/// releases on a virtual-time scheduler (System.Reactive's HistoricalScheduler). No sockets, no
/// waiting: a simulated hour takes milliseconds.
/// </summary>
public class FillFirstStrategyTests
{
    private static readonly BackendOptions[] s_backends =
        [new("10.0.0.1:5432"), new("10.0.0.2:5432"), new("10.0.0.3:5432")];

    [Fact]
    public void ScriptedTimeline_FillsTheFirstBackendThenSpillsOver()
    {
        var scheduler = new HistoricalScheduler(DateTimeOffset.UnixEpoch);

        // Three connections arrive a second apart; the first ends at 10 s, then a fourth arrives.
        var timeline = Observable.Merge(
            At(scheduler, 1, new ConnectionArrived(1)),
            At(scheduler, 2, new ConnectionArrived(2)),
            At(scheduler, 3, new ConnectionArrived(3)),
            At(scheduler, 10, new ConnectionEnded(1)),
            At(scheduler, 11, new ConnectionArrived(4)));

        var placed = new List<(int Second, string Backend)>();
        using var run = BalancingFold.Run(timeline, s_backends, new FillFirstStrategy(limit: 2))
            .Select(step => step.Decision)
            .OfType<Assignment>()
            .Subscribe(a => placed.Add(((int)(scheduler.Now - DateTimeOffset.UnixEpoch).TotalSeconds, a.Backend.Address)));

        scheduler.Start();

        Assert.Equal(
            [(1, "10.0.0.1:5432"), (2, "10.0.0.1:5432"), (3, "10.0.0.2:5432"), (11, "10.0.0.1:5432")],
            placed);
    }

    [Fact]
    public void GeneratedWorkload_NeverPutsMoreThanTheLimitOnABackendWhileAnotherHasRoom()
    {
        // An hour of Poisson arrivals (about 2 a second) with exponential durations (mean 1 s),
        // generated on virtual time; each connection's release is scheduled when it is placed.
        var scheduler = new HistoricalScheduler();
        var random = new Random(7);
        var arrivals = Observable.Generate(
                initialState: 1L,
                condition: id => id <= 7_200,
                iterate: id => id + 1,
                resultSelector: id => (BalancerInput)new ConnectionArrived(id),
                timeSelector: _ => TimeSpan.FromSeconds(-Math.Log(1 - random.NextDouble()) / 2),
                scheduler: scheduler);
        var releases = new Subject<BalancerInput>();
        var violations = 0;
        var steps = 0;

        using var run = BalancingFold.Run(arrivals.Merge(releases), s_backends, new FillFirstStrategy(limit: 3)).Subscribe(step =>
        {
            steps++;
            if (step.Decision is not Assignment assignment)
            {
                return;
            }

            var placedOn = assignment.Backend;
            var roomElsewhere = step.Snapshot.Backends.Any(b => b.Address != placedOn.Address && b.ActiveConnections < 3);
            if (placedOn.ActiveConnections > 3 && roomElsewhere)
            {
                violations++;
            }

            var duration = TimeSpan.FromSeconds(-Math.Log(1 - random.NextDouble()));
            scheduler.Schedule(duration, () => releases.OnNext(new ConnectionEnded(assignment.ConnectionId)));
        });

        scheduler.Start();

        Assert.Equal(0, violations);
        Assert.Equal(2 * 7_200, steps);
    }

    [Fact]
    public void BuiltInStrategiesAreTestedTheSameWay_ByName()
    {
        var arrivals = Enumerable.Range(1, 7).Select(id => (BalancerInput)new ConnectionArrived(id)).ToObservable();
        BackendOptions[] weighted = [new("10.0.0.1:80", weight: 5), new("10.0.0.2:80"), new("10.0.0.3:80")];

        var sequence = BalancingFold.Run(arrivals, weighted, LoadBalancingStrategies.WeightedRoundRobin)
            .Select(step => ((Assignment)step.Decision!).BackendIndex)
            .ToEnumerable();

        Assert.Equal([0, 0, 1, 0, 2, 0, 0], sequence);
    }

    private static IObservable<BalancerInput> At(IScheduler scheduler, int second, BalancerInput @event) =>
        Observable.Timer(TimeSpan.FromSeconds(second), scheduler).Select(_ => @event);
}
