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

/// <summary>The public fold, as a user testing a strategy drives it: a timeline on virtual time, no sockets.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class BalancingFoldTests
{
    private static readonly BackendOptions[] s_three =
        [new("10.0.0.1:80"), new("10.0.0.2:80"), new("10.0.0.3:80")];

    [Fact]
    public void Run_RoundRobinTimeline_300SequentialConnectionsSplit100Each()
    {
        // A cold timeline: each connection arrives 10 ticks after the one before, relative to the subscription,
        // and ends 5 ticks after it arrived.
        var scheduler = new TestScheduler();
        var events = scheduler.CreateColdObservable(
        [
            .. Enumerable.Range(1, 300).SelectMany(id => new[] { OnNext(id * 10, new ConnectionArrived(id)), OnNext((id * 10) + 5, new ConnectionEnded(id)) }),
            OnCompleted(3_010),
        ]);

        var results = scheduler.StartFold(() => BalancingFold.Run(events, s_three, LoadBalancingStrategies.RoundRobin));

        var last = results.Values()[^1].Value.Snapshot;
        Assert.Equal([100L, 100L, 100L], last.Backends.Select(b => b.TotalConnections));
        Assert.Equal(0, last.ActiveConnections);
        Assert.Equal((1 + 3_010, NotificationKind.OnCompleted), (results.Messages[^1].Time, results.Messages[^1].Value.Kind));
        Assert.Equal([ReactiveTest.Subscribe(1, 1 + 3_010)], events.Subscriptions);
    }

    [Fact]
    public void Run_LeastConnectionsWithOneBackendDown_SplitsEvenlyOverTheOthers()
    {
        // The chaos run's shape: the middle of three backends fails its health checks, then 2,400 short
        // requests arrive 2 ms apart, each ending 1 ms later, so nearly every decision is a tie. Ties must
        // rotate over the two backends still up; counting the dead one gave the one after it every other turn.
        var scheduler = new TestScheduler();
        var events = scheduler.CreateHotObservable(
        [
            .. Enumerable.Range(1, 3).Select(i => OnNext(i * 10, new HealthProbed("10.0.0.2:80", Healthy: false))),
            .. Enumerable.Range(1, 2_400).SelectMany(id => new[]
            {
                OnNext(Seconds(id * 0.002), new ConnectionArrived(id)),
                OnNext(Seconds((id * 0.002) + 0.001), new ConnectionEnded(id)),
            }),
        ]);

        var results = scheduler.StartFold(() => BalancingFold.Run(events, s_three, LoadBalancingStrategies.LeastConnections));

        var last = results.Values()[^1].Value.Snapshot;
        Assert.False(last.Backends[1].Healthy);
        Assert.Equal([1_200L, 0L, 1_200L], last.Backends.Select(b => b.TotalConnections));
    }

    [Fact]
    public void Run_DecisionsHappenAtTheTimelinesVirtualTimes()
    {
        var scheduler = new TestScheduler();
        var events = scheduler.CreateHotObservable(
            OnNext(Seconds(1), new ConnectionArrived(1)),
            OnNext(Seconds(2), new ConnectionArrived(2)),
            OnNext(Seconds(3), new ConnectionEnded(1)),
            OnNext(Seconds(4), new ConnectionArrived(3)));

        var results = scheduler.StartFold(() => BalancingFold.Run(events, s_three[..2], LoadBalancingStrategies.LeastConnections));

        Assert.Equal(
            [(1, "1→10.0.0.1:80"), (2, "2→10.0.0.2:80"), (3, "1 released"), (4, "3→10.0.0.1:80")],
            results.Values().Select(step => (step.Second, Describe(step.Value.Decision))));
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
        var scheduler = new TestScheduler();
        // Arrivals from Interval, which schedules each tick when the one before has fired: a release due at the
        // same instant as an arrival (scheduled earlier, two seconds before) frees its slot first.
        var arrivals = Observable.Interval(TimeSpan.FromSeconds(1), scheduler).Take(10).Select(i => (BalancerInput)new ConnectionArrived(i));
        var releases = new Subject<BalancerInput>();

        var results = scheduler.StartFold(() => BalancingFold.Run(arrivals.Merge(releases), s_three, LoadBalancingStrategies.LeastConnections)
            .Do(step =>
            {
                if (step.Decision is Assignment assignment)
                {
                    scheduler.Schedule(TimeSpan.FromSeconds(2), () => releases.OnNext(new ConnectionEnded(assignment.ConnectionId)));
                }
            }));

        Assert.Equal(2, results.Values().Max(step => step.Value.Snapshot.ActiveConnections));
        Assert.Equal(20, results.Values().Count);
    }

    // The family of cases Rx.NET gives every operator, on ReactiveTest's default timeline (created at 100,
    // subscribed at 200, disposed at 1000): the fold subscribes to its events once, passes on their end,
    // and unsubscribes when it is disposed.

    [Fact]
    public void Run_Never_DecidesNothingAndStaysSubscribedUntilDisposed()
    {
        var scheduler = new TestScheduler();
        var events = scheduler.CreateHotObservable(OnNext(150, new ConnectionArrived(1)));

        var results = scheduler.Start(() => BalancingFold.Run(events, s_three, LoadBalancingStrategies.RoundRobin));

        Assert.Empty(results.Messages);
        Assert.Equal([ReactiveTest.Subscribe(200, 1000)], events.Subscriptions);
    }

    [Fact]
    public void Run_Empty_Completes()
    {
        var scheduler = new TestScheduler();
        var events = scheduler.CreateHotObservable(OnNext(150, new ConnectionArrived(1)), OnCompleted(250));

        var results = scheduler.Start(() => BalancingFold.Run(events, s_three, LoadBalancingStrategies.RoundRobin));

        Assert.Equal([ReactiveTest.OnCompleted<BalancingStep>(250)], results.Messages);
        Assert.Equal([ReactiveTest.Subscribe(200, 250)], events.Subscriptions);
    }

    [Fact]
    public void Run_One_IsOneStepAtItsTick()
    {
        var scheduler = new TestScheduler();
        var events = scheduler.CreateHotObservable(OnNext(210, new ConnectionArrived(1)), OnCompleted(250));

        var results = scheduler.Start(() => BalancingFold.Run(events, s_three, LoadBalancingStrategies.RoundRobin));

        Assert.Equal(
            [(210L, NotificationKind.OnNext), (250L, NotificationKind.OnCompleted)],
            results.Messages.Select(m => (m.Time, m.Value.Kind)));
        Assert.Equal("1→10.0.0.1:80", Describe(results.Messages[0].Value.Value.Decision));
        Assert.Equal(1, results.Messages[0].Value.Value.Snapshot.ActiveConnections);
        Assert.Equal([ReactiveTest.Subscribe(200, 250)], events.Subscriptions);
    }

    [Fact]
    public void Run_Error_IsPassedOnAfterTheStepsBeforeIt()
    {
        var scheduler = new TestScheduler();
        var error = new InvalidOperationException("the event source failed");
        var events = scheduler.CreateHotObservable(OnNext(210, new ConnectionArrived(1)), OnError(250, error));

        var results = scheduler.Start(() => BalancingFold.Run(events, s_three, LoadBalancingStrategies.RoundRobin));

        Assert.Equal(
            [(210L, NotificationKind.OnNext), (250L, NotificationKind.OnError)],
            results.Messages.Select(m => (m.Time, m.Value.Kind)));
        Assert.Same(error, results.Messages[1].Value.Exception);
        Assert.Equal([ReactiveTest.Subscribe(200, 250)], events.Subscriptions);
    }

    [Fact]
    public void Run_Disposed_DecidesNothingAfterwards_AndCancelsItsTimers()
    {
        // Connection 2 is queued at 210 with a timeout due at 210 + 500; disposed at 300, the fold neither takes
        // connection 3 at 400 nor times connection 2 out.
        var scheduler = new TestScheduler();
        var options = new LoadBalancerOptions
        {
            Backends = [new("10.0.0.1:80") { MaxConnections = 1 }],
            MaxQueueLength = 1,
            QueueTimeout = TimeSpan.FromTicks(500),
        };
        var events = scheduler.CreateHotObservable(
            OnNext(205, new ConnectionArrived(1)), OnNext(210, new ConnectionArrived(2)), OnNext(400, new ConnectionArrived(3)));

        var results = scheduler.Start(() => BalancingFold.Run(events, options, scheduler), disposed: 300);

        Assert.Equal([205L, 210L], results.Messages.Select(m => m.Time));
        Assert.IsType<Queued>(results.Messages[1].Value.Value.Decision);
        Assert.Equal([ReactiveTest.Subscribe(200, 300)], events.Subscriptions);
        // The clock stopped at the hot timeline's last message: the timeout due at 710 was cancelled, not run.
        Assert.Equal(400, scheduler.Clock);
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
