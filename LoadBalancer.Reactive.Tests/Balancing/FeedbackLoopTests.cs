using System.Reactive;
using System.Reactive.Concurrency;
using System.Reactive.Disposables;
using System.Reactive.Linq;
using LoadBalancer.Reactive.Balancing;
using Microsoft.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>
/// The closed loop: steps folded from a feed, each step's work started after it is delivered, and that work's inputs
/// folded back. Timelines on virtual time (ReactiveTest's default: created 100, subscribed 200, disposed 1000);
/// work is a cold timeline per assigned connection.
/// </summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class FeedbackLoopTests
{
    private const string A = "10.0.0.1:80";

    private readonly TestScheduler _scheduler = new();
    private readonly SerializingSubject<BalancerInput> _feed = new();
    private readonly Dictionary<long, Func<IObservable<BalancerInput>>> _work = [];
    private readonly List<(long Tick, Exception Fault)> _faults = [];

    [Fact]
    public void Run_Never_FoldsNothingAndStaysSubscribed()
    {
        var inputs = _scheduler.CreateHotObservable(OnNext(150, Arrive(1)));

        var results = _scheduler.Start(() => Loop(inputs));

        Assert.Empty(results.Messages);
        Assert.Equal([ReactiveTest.Subscribe(200, 1000)], inputs.Subscriptions);
    }

    [Fact]
    public void Run_Empty_CompletesWithoutAStep()
    {
        var inputs = _scheduler.CreateHotObservable(OnNext(150, Arrive(1)), OnCompleted(250));

        var results = _scheduler.Start(() => Loop(inputs));

        Assert.Equal([(250L, "completed")], Timeline(results));
        Assert.Equal([ReactiveTest.Subscribe(200, 250)], inputs.Subscriptions);
    }

    [Fact]
    public void Run_One_FoldsItThenCompletes()
    {
        var inputs = _scheduler.CreateHotObservable(OnNext(210, Arrive(1)), OnCompleted(250));

        var results = _scheduler.Start(() => Loop(inputs));

        Assert.Equal([(210L, "arrive 1: a"), (250L, "completed")], Timeline(results));
        Assert.Equal([ReactiveTest.Subscribe(200, 250)], inputs.Subscriptions);
    }

    [Fact]
    public void Run_StepWithWork_FoldsWhatTheWorkProducesWhenItProducesIt()
    {
        var inputs = _scheduler.CreateHotObservable(OnNext(210, Arrive(1)));
        var relay = _scheduler.CreateColdObservable(OnNext(40, new HealthProbed(A, true)), OnNext(100, Release(1)), OnCompleted(100));
        _work[1] = () => relay;

        var results = _scheduler.Start(() => Loop(inputs));

        Assert.Equal([(210L, "arrive 1: a"), (250L, "probe 10.0.0.1:80"), (310L, "end 1: release")], Timeline(results));
        Assert.Equal([ReactiveTest.Subscribe(210, 310)], relay.Subscriptions);
        Assert.Empty(_faults);
    }

    [Fact]
    public void Run_InputsFail_PassesTheErrorOnAndDisposesRunningWork()
    {
        var error = new InvalidOperationException("inputs failed");
        var inputs = _scheduler.CreateHotObservable(OnNext(210, Arrive(1)), OnError(250, error));
        var relay = _scheduler.CreateColdObservable(OnNext(500, Release(1)));
        _work[1] = () => relay;

        var results = _scheduler.Start(() => Loop(inputs));

        Assert.Equal([(210L, "arrive 1: a"), (250L, "error: inputs failed")], Timeline(results));
        Assert.Same(error, results.Messages[^1].Value.Exception);
        Assert.Equal([ReactiveTest.Subscribe(210, 250)], relay.Subscriptions);
        Assert.Empty(_faults);
    }

    [Fact]
    public void Run_Disposed_DisposesRunningWorkAtThatTime()
    {
        var inputs = _scheduler.CreateHotObservable(OnNext(210, Arrive(1)), OnNext(700, Arrive(2)));
        var relay = _scheduler.CreateColdObservable(OnNext(500, Release(1)));
        _work[1] = () => relay;

        var results = _scheduler.Start(() => Loop(inputs), created: 100, subscribed: 200, disposed: 600);

        Assert.Equal([(210L, "arrive 1: a")], Timeline(results));
        Assert.Equal([ReactiveTest.Subscribe(210, 600)], relay.Subscriptions);
        Assert.Equal([ReactiveTest.Subscribe(200, 600)], inputs.Subscriptions);
    }

    [Fact]
    public void Run_SelectorThrowsAndWorkFails_AreReportedAndDroppedWhileOtherWorkFeedsTheFold()
    {
        var selectorError = new InvalidOperationException("selector failed");
        var workError = new InvalidOperationException("work failed");
        var inputs = _scheduler.CreateHotObservable(
            OnNext(210, Arrive(1)), OnNext(220, Arrive(2)), OnNext(230, Arrive(3)), OnNext(300, Arrive(4)));
        var longRunning = _scheduler.CreateColdObservable(OnNext(100, new HealthProbed(A, true)), OnNext(300, Release(1)), OnCompleted(300));
        var failing = _scheduler.CreateColdObservable(OnError(10, workError));
        var later = _scheduler.CreateColdObservable(OnNext(10, Release(4)), OnCompleted(10));
        _work[1] = () => longRunning;
        _work[2] = () => throw selectorError;
        _work[3] = () => failing;
        _work[4] = () => later;

        var results = _scheduler.Start(() => Loop(inputs));

        Assert.Equal(
            [
                (210L, "arrive 1: a"), (220L, "arrive 2: b"), (230L, "arrive 3: c"), (300L, "arrive 4: d"),
                (310L, "probe 10.0.0.1:80"), (310L, "end 4: release"), (510L, "end 1: release"),
            ],
            Timeline(results));
        Assert.Equal([(220L, (Exception)selectorError), (240L, workError)], _faults);
        Assert.Equal([ReactiveTest.Subscribe(210, 510)], longRunning.Subscriptions);
        Assert.Equal([ReactiveTest.Subscribe(230, 240)], failing.Subscriptions);
        Assert.Equal([ReactiveTest.Subscribe(300, 310)], later.Subscriptions);
    }

    [Fact]
    public void Run_WorkEmittingDuringSubscribe_IsFoldedAfterTheStepInOrderNeverReentrantly()
    {
        var subscribing = false;
        var steps = new List<(string Step, bool DuringWorkSubscribe)>();
        _work[1] = () => Observable.Create<BalancerInput>(observer =>
        {
            subscribing = true;
            observer.OnNext(new HealthProbed(A, true));
            observer.OnNext(Release(1));
            observer.OnNext(Arrive(2));
            subscribing = false;
            return Disposable.Empty;
        });
        using var loop = FeedbackLoop.Run(_feed, State(4), Policy(), Work, Fault).Subscribe(step => steps.Add((Describe(step), subscribing)));

        _feed.OnNext(Arrive(1));

        Assert.Equal([("arrive 1: a", false), ("probe 10.0.0.1:80", false), ("end 1: release", false), ("arrive 2: b", false)], steps);
    }

    [Fact]
    public void Run_WorkCompletingDuringSubscribe_FoldsItsInputsAndDisposesIt()
    {
        var disposed = 0;
        _work[1] = () => Observable.Create<BalancerInput>(observer =>
        {
            observer.OnNext(Release(1));
            observer.OnCompleted();
            return Disposable.Create(() => disposed++);
        });
        var steps = new List<string>();
        var loop = FeedbackLoop.Run(_feed, State(2), Policy(), Work, Fault).Subscribe(step => steps.Add(Describe(step)));

        _feed.OnNext(Arrive(1));

        Assert.Equal(["arrive 1: a", "end 1: release"], steps);
        Assert.Equal(1, disposed);
        loop.Dispose();
        Assert.Equal(1, disposed);
    }

    [Fact]
    public void Run_FeedCompleted_EndsTheLoopAndItsWorkAndIgnoresLaterInputs()
    {
        var relay = _scheduler.CreateColdObservable(OnNext(200, Release(1)));
        _work[1] = () => relay;
        var results = _scheduler.CreateObserver<Step>();
        _scheduler.ScheduleAbsolute(200, () => FeedbackLoop.Run(_feed, State(2), Policy(), Work, Fault).Subscribe(results));
        _scheduler.ScheduleAbsolute(210, () => _feed.OnNext(Arrive(1)));
        _scheduler.ScheduleAbsolute(250, _feed.OnCompleted);
        _scheduler.ScheduleAbsolute(300, () => _feed.OnNext(Arrive(2)));

        _scheduler.AdvanceTo(1000);

        Assert.Equal([(210L, "arrive 1: a"), (250L, "completed")], Timeline(results));
        Assert.Equal([ReactiveTest.Subscribe(210, 250)], relay.Subscriptions);
    }

    [Fact]
    public void Run_InputsPostedBeforeTheLoopIsSubscribed_AreFoldedOnceItIs()
    {
        _feed.OnNext(Arrive(1));
        _feed.OnNext(Arrive(2));
        var steps = new List<string>();

        using var loop = FeedbackLoop.Run(_feed, State(2), Policy(), Work, Fault).Subscribe(step => steps.Add(Describe(step)));

        Assert.Equal(["arrive 1: a", "arrive 2: b"], steps);
    }

    [Fact]
    public void Run_OverInputs_EachSubscriptionRunsALoopOfItsOwn()
    {
        var inputs = _scheduler.CreateColdObservable(OnNext(10, Arrive(1)), OnNext(20, Arrive(2)));
        var loop = Loop(inputs);
        var first = _scheduler.CreateObserver<Step>();
        var second = _scheduler.CreateObserver<Step>();
        _scheduler.ScheduleAbsolute(100, () => loop.Subscribe(first));
        _scheduler.ScheduleAbsolute(105, () => loop.Subscribe(second));

        _scheduler.AdvanceTo(1000);

        // Each starts from the initial state: the second loop's connection 1 is not counted on top of the first's.
        Assert.Equal([(110L, "arrive 1: a"), (120L, "arrive 2: b")], Timeline(first));
        Assert.Equal([(115L, "arrive 1: a"), (125L, "arrive 2: b")], Timeline(second));
    }

    private IObservable<Step> Loop(IObservable<BalancerInput> inputs) => FeedbackLoop.Run(inputs, State(4), Policy(), Work, Fault);

    private IObservable<BalancerInput>? Work(Step step) =>
        step.Decision is Assignment assignment && _work.TryGetValue(assignment.ConnectionId, out var work) ? work() : null;

    private void Fault(Exception fault) => _faults.Add((_scheduler.Clock, fault));

    private static List<(long Tick, string Step)> Timeline(ITestableObserver<Step> results) =>
        [.. results.Messages.Select(message => (message.Time, message.Value.Kind switch
        {
            NotificationKind.OnNext => Describe(message.Value.Value),
            NotificationKind.OnError => $"error: {message.Value.Exception!.Message}",
            _ => "completed",
        }))];

    // The input folded and what was decided about it: "arrive 1: a" (assigned to a), "end 1: release".
    private static string Describe(Step step)
    {
        var input = step.Input switch
        {
            ConnectionArrived arrived => $"arrive {arrived.ConnectionId}",
            ConnectionEnded ended => $"end {ended.ConnectionId}",
            HealthProbed probed => $"probe {probed.Backend}",
            var other => other?.GetType().Name ?? "none",
        };
        return step.Decision switch
        {
            null => input,
            Release _ => $"{input}: release",
            var decision => $"{input}: {Letter(decision)}",
        };
    }
}
