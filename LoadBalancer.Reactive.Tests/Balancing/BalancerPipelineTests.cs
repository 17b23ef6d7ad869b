using System.Reactive.Linq;
using System.Reactive.Subjects;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Tests.Infrastructure;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>The fold driven by scripted timelines in virtual time: no sockets, no waiting.</summary>
public class BalancerPipelineTests
{
    private readonly TestScheduler _scheduler = new();
    private readonly SerializingSubject<BalancerInput> _feed = new();
    private readonly List<(long Tick, string Decision, int[] Active)> _recorded = [];

    [Fact]
    public void Run_ScriptedTimeline_GivesExactLeastConnectionDecisions()
    {
        // Three backends a, b, c. Connections 1-3 fill one each; 2 ends, so 4 must go to b;
        // 1 and 3 end, so 5 and 6 go to a and c, the two idle backends, in rotation.
        Script(
            (100, Arrive(1)), (200, Arrive(2)), (300, Arrive(3)),
            (400, Release(2)), (500, Arrive(4)),
            (600, Release(1)), (700, Release(3)), (800, Arrive(5)), (900, Arrive(6)));

        Record(State(3));
        _scheduler.Start();

        Assert.Equal(
            [
                (100, "a", [1, 0, 0]), (200, "b", [1, 1, 0]), (300, "c", [1, 1, 1]),
                (400, "release", [1, 0, 1]), (500, "b", [1, 1, 1]),
                (600, "release", [0, 1, 1]), (700, "release", [0, 1, 0]), (800, "c", [0, 1, 1]), (900, "a", [1, 1, 1]),
            ],
            _recorded.Select(r => (r.Tick, r.Decision, r.Active)).ToList(),
            new TimelineComparer());
    }

    [Fact]
    public void Run_Ties_RotateInsteadOfAlwaysTakingTheFirst()
    {
        // Each connection ends before the next arrives, so every decision is a three-way tie.
        for (var id = 1; id <= 6; id++)
        {
            Script((id * 100, Arrive(id)), ((id * 100) + 50, Release(id)));
        }

        Record(State(3));
        _scheduler.Start();

        Assert.Equal("abcabc", string.Concat(_recorded.Where(r => r.Decision != "release").Select(r => r.Decision)));
    }

    [Fact]
    public void Run_CompletionForUnknownConnection_IsIgnored()
    {
        Script((100, Arrive(1)), (200, Release(99)), (300, Arrive(2)));

        Record(State(2));
        _scheduler.Start();

        Assert.Equal(["a", "b"], _recorded.Select(r => r.Decision));
        Assert.Equal([1, 1], _recorded[^1].Active);
    }

    [Fact]
    public void Run_NoBackendAvailable_Rejects()
    {
        Script((100, Arrive(1)));

        Record(State(0));
        _scheduler.Start();

        Assert.Equal([(100L, "-")], _recorded.Select(r => (r.Tick, r.Decision)));
    }

    [Fact]
    public void Run_DisposedMidStream_DecidesNothingAfterwards()
    {
        Script((100, Arrive(1)), (200, Arrive(2)), (400, Arrive(3)), (500, Arrive(4)));

        var subscription = Record(State(2));
        _scheduler.At(300, subscription.Dispose);
        _scheduler.Start();

        Assert.Equal([100L, 200L], _recorded.Select(r => r.Tick));
    }

    [Fact]
    public void Run_NeverAndEmpty_DecideNothing()
    {
        var never = BalancerPipeline.Run(Observable.Never<BalancerInput>(), State(2), Policy());
        var empty = BalancerPipeline.Run(Observable.Empty<BalancerInput>(), State(2), Policy());
        var steps = new List<Step>();
        var completed = false;

        using var a = never.Subscribe(steps.Add);
        using var b = empty.Subscribe(steps.Add, () => completed = true);

        Assert.Empty(steps);
        Assert.True(completed);
    }

    [Fact]
    public void Run_SourceError_IsPassedOn()
    {
        var error = new InvalidOperationException("boom");
        Exception? seen = null;

        using var _ = BalancerPipeline.Run(Observable.Throw<BalancerInput>(error), State(1), Policy())
            .Subscribe(_ => { }, e => seen = e);

        Assert.Same(error, seen);
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

    private void Script(params (long Tick, BalancerInput Event)[] timeline)
    {
        foreach (var (tick, @event) in timeline)
        {
            _scheduler.At(tick, () => _feed.OnNext(@event));
        }
    }

    private IDisposable Record(BalancerState initial) =>
        BalancerPipeline.Run(_feed, initial, Policy())
            .Where(step => step.Decision is not null)
            .Subscribe(step => _recorded.Add((
                _scheduler.Clock,
                step.Decision is Release ? "release" : Letter(step.Decision!),
                [.. Active(step.State)])));

    private sealed class TimelineComparer : IEqualityComparer<(long, string, int[])>
    {
        public bool Equals((long, string, int[]) x, (long, string, int[]) y) =>
            x.Item1 == y.Item1 && x.Item2 == y.Item2 && x.Item3.SequenceEqual(y.Item3);

        public int GetHashCode((long, string, int[]) obj) => HashCode.Combine(obj.Item1, obj.Item2);
    }
}
