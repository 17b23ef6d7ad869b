using System.Collections;
using System.Reactive.Concurrency;
using System.Reactive.Disposables;
using System.Reflection;
using LoadBalancer.Reactive.Balancing;
using Microsoft.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>
/// The group that merges every step's work back into the feed, on virtual time: each work observable is a cold
/// timeline started when its step is, and the feed is a recording observer.
/// </summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class WorkGroupTests
{
    private readonly TestScheduler _scheduler = new();
    private readonly ITestableObserver<BalancerInput> _feed;
    private readonly List<(long Tick, Exception Fault)> _faults = [];
    private readonly WorkGroup _group;

    public WorkGroupTests()
    {
        _feed = _scheduler.CreateObserver<BalancerInput>();
        _group = new WorkGroup(_feed, fault => _faults.Add((_scheduler.Clock, fault)));
    }

    // The family of cases: never, empty, one, error, dispose.

    [Fact]
    public void Start_NeverEndingWork_PostsNothingAndStaysSubscribedUntilDisposed()
    {
        var work = _scheduler.CreateColdObservable<BalancerInput>();

        StartAt(100, work);
        _scheduler.AdvanceTo(1000);
        _group.Dispose();

        Assert.Empty(_feed.Messages);
        Assert.Equal([ReactiveTest.Subscribe(100, 1000)], work.Subscriptions);
        Assert.Empty(_faults);
    }

    [Fact]
    public void Start_EmptyWork_PostsNothingAndLeavesWhenItCompletes()
    {
        var work = _scheduler.CreateColdObservable(OnCompleted(50));

        StartAt(100, work);
        _scheduler.AdvanceTo(1000);

        Assert.Empty(_feed.Messages);
        Assert.Equal([ReactiveTest.Subscribe(100, 150)], work.Subscriptions);
        Assert.Equal(0, Members(_group));
    }

    [Fact]
    public void Start_WorkProducingInputs_PostsEachWhenItComesAndNeverTheCompletion()
    {
        var work = _scheduler.CreateColdObservable(OnNext(10, Release(1)), OnNext(30, Arrive(2)), OnCompleted(40));

        StartAt(100, work);
        _scheduler.AdvanceTo(1000);

        // The feed is shared by all work: one piece of work ending must not end it.
        Assert.Equal([OnNext(110, Release(1)), OnNext(130, Arrive(2))], _feed.Messages);
        Assert.Equal([ReactiveTest.Subscribe(100, 140)], work.Subscriptions);
        Assert.Equal(0, Members(_group));
    }

    [Fact]
    public void Start_WorkThatFails_IsReportedAndDroppedWhileOtherWorkGoesOn()
    {
        var error = new InvalidOperationException("work failed");
        var failing = _scheduler.CreateColdObservable(OnNext(10, Release(1)), OnError(20, error));
        var running = _scheduler.CreateColdObservable(OnNext(100, Release(2)), OnNext(300, Release(3)));

        StartAt(100, running);
        StartAt(150, failing);
        _scheduler.AdvanceTo(1000);

        // The error never reaches the feed: it would end the fold.
        Assert.Equal([OnNext(160, Release(1)), OnNext(200, Release(2)), OnNext(400, Release(3))], _feed.Messages);
        Assert.Equal([(170L, (Exception)error)], _faults);
        Assert.Equal([ReactiveTest.Subscribe(150, 170)], failing.Subscriptions);
        Assert.Equal([ReactiveTest.Subscribe(100)], running.Subscriptions);
        Assert.Equal(1, Members(_group));
    }

    [Fact]
    public void Dispose_RunningWork_DisposesEverySubscriptionAtThatTime()
    {
        var first = _scheduler.CreateColdObservable(OnNext(500, Release(1)));
        var second = _scheduler.CreateColdObservable(OnNext(50, Release(2)), OnNext(500, Release(3)));

        StartAt(100, first);
        StartAt(200, second);
        _scheduler.ScheduleAbsolute(300, _group.Dispose);
        _scheduler.AdvanceTo(1000);

        Assert.Equal([OnNext(250, Release(2))], _feed.Messages);
        Assert.Equal([ReactiveTest.Subscribe(100, 300)], first.Subscriptions);
        Assert.Equal([ReactiveTest.Subscribe(200, 300)], second.Subscriptions);
        Assert.Equal(0, Members(_group));
    }

    [Fact]
    public void Start_AfterDispose_SubscribesNothing()
    {
        var work = _scheduler.CreateColdObservable(OnNext(10, Release(1)));
        _group.Dispose();

        StartAt(100, work);
        _scheduler.AdvanceTo(1000);

        Assert.Empty(work.Subscriptions);
        Assert.Empty(_feed.Messages);
    }

    [Fact]
    public void Start_NoWork_SubscribesNothing()
    {
        _group.Start(default, _ => null);

        Assert.Equal(0, Members(_group));
        Assert.Empty(_faults);
    }

    [Fact]
    public void Start_SelectorThrows_IsReportedAndLaterStepsStillGetWork()
    {
        var error = new InvalidOperationException("selector failed");
        var later = _scheduler.CreateColdObservable(OnNext(10, Release(2)));

        _scheduler.ScheduleAbsolute(100, () => _group.Start(default, _ => throw error));
        StartAt(200, later);
        _scheduler.AdvanceTo(1000);

        Assert.Equal([(100L, (Exception)error)], _faults);
        Assert.Equal([OnNext(210, Release(2))], _feed.Messages);
    }

    [Fact]
    public void Start_SubscribeThrows_IsReportedAndTheWorkLeaves()
    {
        var error = new InvalidOperationException("subscribe failed");

        _group.Start(default, _ => new RawObservable(_ => throw error));

        Assert.Equal([(0L, (Exception)error)], _faults);
        Assert.Equal(0, Members(_group));
    }

    [Fact]
    public void Start_WorkEmittingAndCompletingDuringSubscribe_PostsItsInputsDisposesItsSubscriptionAndLeaves()
    {
        var disposed = 0;
        var work = new RawObservable(observer =>
        {
            observer.OnNext(Release(1));
            observer.OnNext(Arrive(2));
            observer.OnCompleted();
            return Disposable.Create(() => disposed++);
        });

        _group.Start(default, _ => work);

        Assert.Equal([OnNext(0, Release(1)), OnNext(0, Arrive(2))], _feed.Messages);
        Assert.Equal(1, disposed);
        Assert.Equal(0, Members(_group));

        _group.Dispose();
        Assert.Equal(1, disposed);
    }

    [Fact]
    public void Start_WorkThatGoesOnAfterItCompleted_PostsNothingMore()
    {
        IObserver<BalancerInput>? captured = null;
        _group.Start(default, _ => new RawObservable(observer =>
        {
            captured = observer;
            return Disposable.Create(() => { });
        }));

        captured!.OnNext(Release(1));
        captured.OnCompleted();
        captured.OnNext(Release(2));

        Assert.Equal([OnNext(0, Release(1))], _feed.Messages);
    }

    [Fact]
    public void Start_WorkWhoseSubscriptionIsDisposableEmpty_PostsWhatItProducesLater()
    {
        IObserver<BalancerInput>? captured = null;
        _group.Start(default, _ => new RawObservable(observer =>
        {
            captured = observer;
            return Disposable.Empty;
        }));

        captured!.OnNext(Release(1));
        captured.OnCompleted();

        Assert.Equal([OnNext(0, Release(1))], _feed.Messages);
        Assert.Equal(0, Members(_group));
    }

    [Fact]
    public void Dispose_WorkThatIgnoresDisposal_PostsNothingAfterwards()
    {
        IObserver<BalancerInput>? captured = null;
        var disposed = 0;
        _group.Start(default, _ => new RawObservable(observer =>
        {
            captured = observer;
            return Disposable.Create(() => disposed++);
        }));

        _group.Dispose();
        captured!.OnNext(Release(1));

        Assert.Empty(_feed.Messages);
        Assert.Equal(1, disposed);
    }

    private void StartAt(long ticks, IObservable<BalancerInput> work) =>
        _scheduler.ScheduleAbsolute(ticks, () => _group.Start(default, _ => work));

    // Whether work left the group shows nowhere else: a member that stayed would be held (and disposed) until the balancer stops.
    private static int Members(WorkGroup group) =>
        ((ICollection)typeof(WorkGroup).GetField("_members", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(group)!).Count;

    // An observable exactly as written, without Observable.Create's guards (which would hide what the group itself does).
    private sealed class RawObservable(Func<IObserver<BalancerInput>, IDisposable> subscribe) : IObservable<BalancerInput>
    {
        public IDisposable Subscribe(IObserver<BalancerInput> observer) => subscribe(observer);
    }
}
