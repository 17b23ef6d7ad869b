using System.Reactive;
using System.Reactive.Concurrency;
using System.Reactive.Disposables;
using LoadBalancer.Reactive.Balancing;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>
/// The fold's serializing stream as a subject, on timelines the way Rx.NET tests its subjects: a hot source
/// fed into it from tick 200, an observer subscribed (and disposed) at set ticks, its recorded messages asserted.
/// </summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class SerializingSubjectTests : ReactiveTest
{
    private readonly TestScheduler _scheduler = new();
    private readonly SerializingSubject<int> _subject = new();
    private readonly ITestableObserver<int> _results;

    public SerializingSubjectTests() => _results = _scheduler.CreateObserver<int>();

    [Fact]
    public void Subscribe_SourceThatNeverEmits_DeliversNothing()
    {
        var source = Feed(OnNext(150, 1));
        SubscribeAt(200);

        _scheduler.Start();

        Assert.Empty(_results.Messages);
        Assert.Equal([Subscribe(200)], source.Subscriptions);
    }

    [Fact]
    public void OnCompleted_OfAnEmptySource_IsDelivered()
    {
        Feed(OnCompleted<int>(250));
        SubscribeAt(200);

        _scheduler.Start();

        Assert.Equal([OnCompleted<int>(250)], _results.Messages);
    }

    [Fact]
    public void OnNext_BeforeSubscribe_IsDeliveredOnSubscribe()
    {
        Feed(OnNext(210, 1), OnNext(220, 2), OnNext(310, 3));
        SubscribeAt(300);

        _scheduler.Start();

        Assert.Equal([OnNext(300, 1), OnNext(300, 2), OnNext(310, 3)], _results.Messages);
    }

    [Fact]
    public void OnCompleted_AfterQueuedValues_ComesLast()
    {
        Feed(OnNext(210, 1), OnCompleted<int>(220));
        SubscribeAt(200);
        _scheduler.ScheduleAbsolute(230, () => _subject.OnNext(2));

        _scheduler.Start();

        Assert.Equal([OnNext(210, 1), OnCompleted<int>(220)], _results.Messages);
    }

    [Fact]
    public void OnError_IsDelivered()
    {
        var error = new InvalidOperationException();
        Feed(OnNext(210, 1), OnError<int>(220, error));
        SubscribeAt(200);

        _scheduler.Start();

        Assert.Equal([OnNext(210, 1), OnError<int>(220, error)], _results.Messages);
        Assert.Same(error, _results.Messages[^1].Value.Exception);
    }

    [Fact]
    public void Subscribe_Twice_Throws()
    {
        using var _ = _subject.Subscribe(_ => { });

        Assert.Throws<InvalidOperationException>(() => _subject.Subscribe(_ => { }));
    }

    [Fact]
    public void Dispose_StopsDelivery()
    {
        Feed(OnNext(210, 1), OnNext(260, 2));
        var subscription = SubscribeAt(200);
        _scheduler.ScheduleAbsolute(250, () => subscription.Dispose());

        _scheduler.Start();

        Assert.Equal([OnNext(210, 1)], _results.Messages);
    }

    [Fact]
    public void OnNext_ThrowingSubscriber_DoesNotWedgeTheStream()
    {
        var seen = new List<int>();
        using var _ = _subject.Subscribe(v =>
        {
            seen.Add(v);
            if (v == 1)
            {
                throw new InvalidOperationException("subscriber bug");
            }
        });

        Assert.Throws<InvalidOperationException>(() => _subject.OnNext(1));
        _subject.OnNext(2);

        Assert.Equal([1, 2], seen);
    }

    // A hot source of these messages, fed into the subject from tick 200 (what came before is lost).
    private ITestableObservable<int> Feed(params Recorded<Notification<int>>[] messages)
    {
        var source = _scheduler.CreateHotObservable(messages);
        _scheduler.ScheduleAbsolute(200, () => source.Subscribe(_subject));
        return source;
    }

    // The recorder's subscription, made at the given tick; disposing the returned handle disposes it.
    private SerialDisposable SubscribeAt(long tick)
    {
        var subscription = new SerialDisposable();
        _scheduler.ScheduleAbsolute(tick, () => subscription.Disposable = _subject.Subscribe(_results));
        return subscription;
    }
}
