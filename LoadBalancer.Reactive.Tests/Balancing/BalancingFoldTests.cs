using System.Reactive.Concurrency;
using System.Reactive.Linq;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>The public fold, as a user testing a strategy drives it: a timeline on virtual time, no sockets.</summary>
public class BalancingFoldTests
{
    private static readonly BackendOptions[] s_three =
        [new("10.0.0.1:80"), new("10.0.0.2:80"), new("10.0.0.3:80")];

    [Fact]
    public void Run_RoundRobinTimeline_300SequentialConnectionsSplit100Each()
    {
        var scheduler = new HistoricalScheduler();
        var events = Observable.Range(1, 300, scheduler)
            .SelectMany(id => new BalancerInput[] { new ConnectionArrived(id), new ConnectionEnded(id) });
        BalancerSnapshot? last = null;

        using var _ = BalancingFold.Run(events, s_three, LoadBalancingStrategies.RoundRobin).Subscribe(step => last = step.Snapshot);
        scheduler.Start();

        Assert.Equal([100L, 100L, 100L], last!.Backends.Select(b => b.TotalConnections));
        Assert.Equal(0, last.ActiveConnections);
    }

    [Fact]
    public void Run_LeastConnectionsWithOneBackendDown_SplitsEvenlyOverTheOthers()
    {
        // The chaos run's shape: the middle of three backends fails its health checks, then 2,400 short
        // requests arrive 2 ms apart, each ending 1 ms later, so nearly every decision is a tie. Ties must
        // rotate over the two backends still up; counting the dead one gave the one after it every other turn.
        var scheduler = new HistoricalScheduler(DateTimeOffset.UnixEpoch);
        var down = Enumerable.Range(0, 3).Select(_ => (BalancerInput)new HealthProbed("10.0.0.2:80", Healthy: false)).ToObservable(scheduler);
        var requests = Observable.Generate(1L, id => id <= 2_400, id => id + 1, id => id, _ => TimeSpan.FromMilliseconds(2), scheduler)
            .SelectMany(id => Observable.Return<BalancerInput>(new ConnectionArrived(id), scheduler)
                .Concat(Observable.Return<BalancerInput>(new ConnectionEnded(id), scheduler).Delay(TimeSpan.FromMilliseconds(1), scheduler)));
        BalancerSnapshot? last = null;

        using var _ = BalancingFold.Run(down.Concat(requests), s_three, LoadBalancingStrategies.LeastConnections).Subscribe(step => last = step.Snapshot);
        scheduler.Start();

        Assert.False(last!.Backends[1].Healthy);
        Assert.Equal([1_200L, 0L, 1_200L], last.Backends.Select(b => b.TotalConnections));
    }

    [Fact]
    public void Run_DecisionsHappenAtTheTimelinesVirtualTimes()
    {
        var scheduler = new HistoricalScheduler(DateTimeOffset.UnixEpoch);
        var events = Observable.Merge(
            At(scheduler, 1, new ConnectionArrived(1)),
            At(scheduler, 2, new ConnectionArrived(2)),
            At(scheduler, 3, new ConnectionEnded(1)),
            At(scheduler, 4, new ConnectionArrived(3)));
        var seen = new List<(double Second, string Decision)>();

        using var _ = BalancingFold.Run(events, s_three[..2], LoadBalancingStrategies.LeastConnections)
            .Subscribe(step => seen.Add(((scheduler.Now - DateTimeOffset.UnixEpoch).TotalSeconds, Describe(step.Decision))));
        scheduler.Start();

        Assert.Equal([(1, "1→10.0.0.1:80"), (2, "2→10.0.0.2:80"), (3, "1 released"), (4, "3→10.0.0.1:80")], seen);
    }

    [Fact]
    public void Run_SameSeed_SameDecisions_OtherSeed_OtherDecisions()
    {
        var events = Enumerable.Range(1, 200).Select(id => (BalancerInput)new ConnectionArrived(id)).ToObservable();

        List<int> Decide(int seed) => [.. BalancingFold.Run(events, s_three, LoadBalancingStrategies.Random, seed)
            .Select(step => ((Assignment)step.Decision!).BackendIndex).ToEnumerable()];

        Assert.Equal(Decide(1), Decide(1));
        Assert.NotEqual(Decide(1), Decide(2));
    }

    [Fact]
    public void Run_UserStrategy_IsCalledForEveryArrival()
    {
        var strategy = new AlwaysLast();
        var events = Enumerable.Range(1, 5).Select(id => (BalancerInput)new ConnectionArrived(id)).ToObservable();

        var backends = BalancingFold.Run(events, s_three, strategy).Select(step => ((Assignment)step.Decision!).Backend.Address).ToEnumerable();

        Assert.All(backends, address => Assert.Equal("10.0.0.3:80", address));
        Assert.Equal(5, strategy.Calls);
    }

    [Fact]
    public void Run_UserStrategyThatThrows_RejectsThatConnectionAndGoesOn()
    {
        var strategy = new ThrowsOnSecond();
        var events = Enumerable.Range(1, 3).Select(id => (BalancerInput)new ConnectionArrived(id)).ToObservable();

        var decisions = BalancingFold.Run(events, s_three, strategy).Select(step => step.Decision).ToEnumerable().ToList();

        Assert.IsType<Assignment>(decisions[0]);
        Assert.Equal(RejectionReason.NoBackendAvailable, Assert.IsType<Rejection>(decisions[1]).Reason);
        Assert.IsType<Assignment>(decisions[2]);
    }

    [Fact]
    public void Run_ReleasesPostedFromTheDecisionHandler_ClosedLoopSimulation()
    {
        // A closed loop: each assignment schedules its own release two virtual seconds later, the way a
        // simulation models connection durations. The same serialized stream as the real balancer.
        var scheduler = new HistoricalScheduler();
        var arrivals = Observable.Interval(TimeSpan.FromSeconds(1), scheduler).Take(10).Select(i => (BalancerInput)new ConnectionArrived(i));
        var releases = new System.Reactive.Subjects.Subject<BalancerInput>();
        var peak = 0;

        using var _ = BalancingFold.Run(arrivals.Merge(releases), s_three, LoadBalancingStrategies.LeastConnections).Subscribe(step =>
        {
            peak = Math.Max(peak, step.Snapshot.ActiveConnections);
            if (step.Decision is Assignment assignment)
            {
                scheduler.Schedule(TimeSpan.FromSeconds(2), () => releases.OnNext(new ConnectionEnded(assignment.ConnectionId)));
            }
        });
        scheduler.Start();

        Assert.Equal(2, peak);
    }

    [Fact]
    public void Run_InvalidBackendsOrStrategy_ThrowsListingEveryProblem()
    {
        var exception = Assert.Throws<LoadBalancerOptionsException>(() =>
            BalancingFold.Run(Observable.Never<BalancerInput>(), [new BackendOptions("nowhere")], "fastest"));

        Assert.Equal(2, exception.Errors.Count);
        Assert.Throws<ArgumentNullException>(() => BalancingFold.Run(null!, s_three, "round-robin"));
        Assert.Throws<ArgumentNullException>(() => BalancingFold.Run(Observable.Never<BalancerInput>(), s_three, (ILoadBalancingStrategy)null!));
    }

    private static IObservable<BalancerInput> At(IScheduler scheduler, int second, BalancerInput @event) =>
        Observable.Timer(TimeSpan.FromSeconds(second), scheduler).Select(_ => @event);

    private static string Describe(Decision? decision) => decision switch
    {
        Assignment a => $"{a.ConnectionId}→{a.Backend.Address}",
        Release r => $"{r.ConnectionId} released",
        _ => "-",
    };

    private sealed class AlwaysLast : ILoadBalancingStrategy
    {
        public int Calls { get; private set; }

        public int Pick(in BalancingContext context)
        {
            Calls++;
            return context.Backends.Length - 1;
        }
    }

    private sealed class ThrowsOnSecond : ILoadBalancingStrategy
    {
        public int Pick(in BalancingContext context) =>
            context.DecisionNumber == 1 ? throw new InvalidOperationException("strategy bug") : 0;
    }
}
