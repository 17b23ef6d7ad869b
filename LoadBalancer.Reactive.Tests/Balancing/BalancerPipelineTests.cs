using System.Reactive;
using System.Reactive.Subjects;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>The fold driven by scripted timelines in virtual time: no sockets, no waiting.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class BalancerPipelineTests
{
    private readonly TestScheduler _scheduler = new();
    private readonly SerializingSubject<BalancerInput> _feed = new();

    [Fact]
    public void Run_ScriptedTimeline_GivesExactLeastConnectionDecisions()
    {
        // Three backends a, b, c. Connections 1-3 fill one each; 2 ends, so 4 must go to b;
        // 1 and 3 end, so 5 and 6 go to a and c, the two idle backends, in rotation.
        var events = _scheduler.CreateHotObservable(
            OnNext(100, Arrive(1)), OnNext(200, Arrive(2)), OnNext(300, Arrive(3)),
            OnNext(400, Release(2)), OnNext(500, Arrive(4)),
            OnNext(600, Release(1)), OnNext(700, Release(3)), OnNext(800, Arrive(5)), OnNext(900, Arrive(6)));

        var results = Start(events, State(3));

        Assert.Equal(
            [
                (100, "a", [1, 0, 0]), (200, "b", [1, 1, 0]), (300, "c", [1, 1, 1]),
                (400, "release", [1, 0, 1]), (500, "b", [1, 1, 1]),
                (600, "release", [0, 1, 1]), (700, "release", [0, 1, 0]), (800, "c", [0, 1, 1]), (900, "a", [1, 1, 1]),
            ],
            Decisions(results),
            new TimelineComparer());
        Assert.Equal([ReactiveTest.Subscribe(Subscribed, Disposed)], events.Subscriptions);
    }

    [Fact]
    public void Run_Ties_RotateInsteadOfAlwaysTakingTheFirst()
    {
        // Each connection ends before the next arrives, so every decision is a three-way tie.
        var events = _scheduler.CreateHotObservable([.. Enumerable.Range(1, 6)
            .SelectMany(id => new[] { OnNext(id * 100, Arrive(id)), OnNext((id * 100) + 50, Release(id)) })]);

        var results = Start(events, State(3));

        Assert.Equal("abcabc", string.Concat(Decisions(results).Where(r => r.Decision != "release").Select(r => r.Decision)));
    }

    [Fact]
    public void Run_CompletionForUnknownConnection_IsIgnored()
    {
        var events = _scheduler.CreateHotObservable(OnNext(100, Arrive(1)), OnNext(200, Release(99)), OnNext(300, Arrive(2)));

        var decisions = Decisions(Start(events, State(2)));

        Assert.Equal(["a", "b"], decisions.Select(r => r.Decision));
        Assert.Equal([1, 1], decisions[^1].Active);
    }

    [Fact]
    public void Run_NoBackendAvailable_Rejects()
    {
        var events = _scheduler.CreateHotObservable(OnNext(100, Arrive(1)));

        var results = Start(events, State(0));

        Assert.Equal([(100L, "-")], Decisions(results).Select(r => (r.Tick, r.Decision)));
    }

    [Fact]
    public void Run_DisposedMidStream_DecidesNothingAfterwards()
    {
        var events = _scheduler.CreateHotObservable(OnNext(100, Arrive(1)), OnNext(200, Arrive(2)), OnNext(400, Arrive(3)), OnNext(500, Arrive(4)));

        var results = Start(events, State(2), disposed: 300);

        Assert.Equal([100L, 200L], Decisions(results).Select(r => r.Tick));
        Assert.Equal([ReactiveTest.Subscribe(Subscribed, 300)], events.Subscriptions);
    }

    // The family of cases Rx.NET gives every operator: never, empty, one, error, dispose (above), on
    // ReactiveTest's default timeline (subscribed at 200, disposed at 1000).

    [Fact]
    public void Run_Never_DecidesNothingAndStaysSubscribed()
    {
        var events = _scheduler.CreateHotObservable(OnNext(150, Arrive(1)));

        var results = _scheduler.Start(() => BalancerPipeline.Run(events, State(2), Policy()));

        Assert.Empty(results.Messages);
        Assert.Equal([ReactiveTest.Subscribe(200, 1000)], events.Subscriptions);
    }

    [Fact]
    public void Run_Empty_CompletesWithoutADecision()
    {
        var events = _scheduler.CreateHotObservable(OnNext(150, Arrive(1)), OnCompleted(250));

        var results = _scheduler.Start(() => BalancerPipeline.Run(events, State(2), Policy()));

        Assert.Equal([ReactiveTest.OnCompleted<Step>(250)], results.Messages);
        Assert.Equal([ReactiveTest.Subscribe(200, 250)], events.Subscriptions);
    }

    [Fact]
    public void Run_One_DecidesItThenCompletes()
    {
        var events = _scheduler.CreateHotObservable(OnNext(150, Arrive(1)), OnNext(210, Arrive(2)), OnCompleted(250));

        var results = _scheduler.Start(() => BalancerPipeline.Run(events, State(2), Policy()));

        // The arrival before the subscription was never seen: connection 2 is the first, on a.
        Assert.Equal([(210L, "a", [1, 0])], Decisions(results), new TimelineComparer());
        Assert.Equal(new[] { NotificationKind.OnNext, NotificationKind.OnCompleted }, results.Messages.Select(m => m.Value.Kind));
        Assert.Equal(250, results.Messages[^1].Time);
        Assert.Equal([ReactiveTest.Subscribe(200, 250)], events.Subscriptions);
    }

    [Fact]
    public void Run_SourceError_IsPassedOn()
    {
        var error = new InvalidOperationException("boom");
        var events = _scheduler.CreateHotObservable(OnNext(210, Arrive(1)), OnError(250, error));

        var results = _scheduler.Start(() => BalancerPipeline.Run(events, State(1), Policy()));

        Assert.Equal([(210L, "a", [1])], Decisions(results), new TimelineComparer());
        Assert.Equal((250L, NotificationKind.OnError), (results.Messages[^1].Time, results.Messages[^1].Value.Kind));
        Assert.Same(error, results.Messages[^1].Value.Exception);
        Assert.Equal([ReactiveTest.Subscribe(200, 250)], events.Subscriptions);
    }

    [Fact]
    public void Run_SynchronousReleaseFromTheDecisionHandler_IsQueuedNotReentered()
    {
        // A connect that fails synchronously posts its release while the handler for its own
        // assignment is still running. The fold must finish that step first.
        var depth = 0;
        var maxDepth = 0;
        var order = new List<string>();
        using var _ = BalancerPipeline.Run(_feed, State(2), Policy()).Subscribe(step =>
        {
            maxDepth = Math.Max(maxDepth, ++depth);
            order.Add(step.Decision?.GetType().Name ?? "none");
            if (step.Decision is Assignment assignment)
            {
                _feed.OnNext(Release(assignment.ConnectionId));
                order.Add("handler returns");
            }

            depth--;
        });

        _feed.OnNext(Arrive(1));
        _feed.OnNext(Arrive(2));

        Assert.Equal(1, maxDepth);
        Assert.Equal(["Assignment", "handler returns", "Release", "Assignment", "handler returns", "Release"], order);
    }

    [Fact]
    public void Run_SynchronousReleaseThroughPlainSubject_WouldReenter()
    {
        // The control for the test above: the same handler over an ordinary Subject nests, which is
        // exactly what the serializing stream exists to prevent.
        var feed = new Subject<BalancerInput>();
        var depth = 0;
        var maxDepth = 0;
        using var _ = BalancerPipeline.Run(feed, State(2), Policy()).Subscribe(step =>
        {
            maxDepth = Math.Max(maxDepth, ++depth);
            if (step.Decision is Assignment assignment)
            {
                feed.OnNext(Release(assignment.ConnectionId));
            }

            depth--;
        });

        feed.OnNext(Arrive(1));

        Assert.Equal(2, maxDepth);
    }

    [Fact]
    public async Task Run_ArrivalsAndReleasesFromTwoThreads_KeepCountsExact()
    {
        const int PerThread = 100_000;
        var overlapping = 0;
        var inside = 0;
        Step last = default;
        using var _ = BalancerPipeline.Run(_feed, State(3), Policy()).Subscribe(step =>
        {
            if (Interlocked.Increment(ref inside) != 1)
            {
                Interlocked.Increment(ref overlapping);
            }

            last = step;
            Interlocked.Decrement(ref inside);
        });

        Task Produce(long firstId) => Task.Run(() =>
        {
            for (var id = firstId; id < firstId + PerThread; id++)
            {
                _feed.OnNext(Arrive(id));
                _feed.OnNext(Release(id));
            }
        });

        await Task.WhenAll(Produce(0), Produce(PerThread)).WaitAsync(Loopback.Timeout);

        Assert.Equal(0, overlapping);
        Assert.Equal([0, 0, 0], Active(last.State));
        Assert.Equal(2 * PerThread, last.State.Backends.Sum(b => b.TotalConnections));
        Assert.Empty(last.State.Connections);
    }

    // The scripted timelines start at tick 100, so the fold subscribes before them.
    private const long Subscribed = 50;
    private const long Disposed = 1000;

    private ITestableObserver<Step> Start(ITestableObservable<BalancerInput> events, BalancerState initial, long disposed = Disposed) =>
        _scheduler.Start(() => BalancerPipeline.Run(events, initial, Policy()), created: 0, Subscribed, disposed);

    // Every step that decided something, with the tick it was recorded at and the active counts after it.
    private static List<(long Tick, string Decision, int[] Active)> Decisions(ITestableObserver<Step> results) =>
        [.. results.Messages
            .Where(message => message.Value.Kind == NotificationKind.OnNext && message.Value.Value.Decision is not null)
            .Select(message => (
                message.Time,
                message.Value.Value.Decision is Release ? "release" : Letter(message.Value.Value.Decision!),
                Active(message.Value.Value.State)))];

    private sealed class TimelineComparer : IEqualityComparer<(long, string, int[])>
    {
        public bool Equals((long, string, int[]) x, (long, string, int[]) y) =>
            x.Item1 == y.Item1 && x.Item2 == y.Item2 && x.Item3.SequenceEqual(y.Item3);

        public int GetHashCode((long, string, int[]) obj) => HashCode.Combine(obj.Item1, obj.Item2);
    }
}
