using System.Reactive.Concurrency;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Events;
using Microsoft.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;
using static LoadBalancer.Reactive.Tests.Infrastructure.VirtualTime;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>
/// The timers steps ask for, on virtual time: each fires its input once, at its time and stamped with it, and
/// <see cref="FoldTimers.Pending"/> counts those still waiting. Subscribed at 200 ticks, disposed at 100 s.
/// </summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class FoldTimersTests
{
    private const long Subscribed = 200;
    private const string A = "10.0.0.1:80";

    private static readonly long s_disposed = Seconds(100);
    private static readonly TimeSpan s_queueTimeout = TimeSpan.FromSeconds(5);

    private readonly TestScheduler _scheduler = new();
    private readonly FoldTimers _timers;
    private readonly BalancerState _state = State(2);

    public FoldTimersTests() => _timers = new FoldTimers(s_queueTimeout, _scheduler);

    [Fact]
    public void For_Ejection_FiresItsExpiryAfterItsDurationStampedWithThatTime()
    {
        var ejected = _state.Backends[0] with { Ejected = true, Ejections = 2 };
        var step = new Step(_state, null, [new Ejection(0, ejected, TimeSpan.FromSeconds(30))]);

        var results = Start(step);

        var fired = Subscribed + Seconds(30);
        Assert.Equal([OnNext(fired, new EjectionExpired(A, 2) { Time = At(fired) }), OnCompleted(fired)], results.Messages);
    }

    [Fact]
    public void For_SlowStartStep_FiresTheNextTickWhenItIsDue()
    {
        var step = new Step(_state, null, [new SlowStartStep(0, _state.Backends[0], TimeSpan.FromSeconds(3))]);

        var results = Start(step);

        var fired = Subscribed + Seconds(3);
        Assert.Equal([OnNext(fired, new SlowStartTick(A) { Time = At(fired) }), OnCompleted(fired)], results.Messages);
    }

    [Fact]
    public void For_Queued_FiresTheQueueTimeoutAfterTheQueueTimeout()
    {
        var step = new Step(_state, new Queued(7, 1, QueueReason.ConnectionLimit));

        var results = Start(step);

        var fired = Subscribed + s_queueTimeout.Ticks;
        Assert.Equal([OnNext(fired, new QueueTimedOut(7) { Time = At(fired) }), OnCompleted(fired)], results.Messages);
    }

    [Fact]
    public void For_RemovalDrainingWithCloseAfter_FiresTheCloseDeadline()
    {
        var removing = _state.Backends[0] with { Draining = true, Removing = true, ActiveConnections = 1 };
        var step = new Step(_state, null, [new MembershipChange(0, removing, MembershipChangeKind.DrainStarted, TimeSpan.FromSeconds(20))]);

        var results = Start(step);

        var fired = Subscribed + Seconds(20);
        Assert.Equal([OnNext(fired, new CloseDeadlinePassed(A) { Time = At(fired) }), OnCompleted(fired)], results.Messages);
    }

    [Fact]
    public void For_ChangesThatNeedNoTimer_IsNull()
    {
        var backend = _state.Backends[0];
        BackendChange[] untimed =
        [
            new SlowStartStep(0, backend, NextStepIn: null),
            new MembershipChange(0, backend with { Draining = true }, MembershipChangeKind.DrainStarted),
            new MembershipChange(0, backend, MembershipChangeKind.Joined, TimeSpan.FromSeconds(20)),
            new HealthChange(0, backend with { Healthy = false }),
            new EjectionEnded(0, backend, ByProbe: false),
        ];

        Assert.Null(_timers.For(new Step(_state, new Assignment(1, 0, backend), [.. untimed])));
        Assert.Null(_timers.For(new Step(_state, null)));
        Assert.Equal(0, _timers.Pending);
    }

    [Fact]
    public void For_SeveralTimers_FiresEachAtItsTimeAndCompletesAfterTheLast()
    {
        var step = new Step(
            _state,
            new Queued(7, 1, QueueReason.BackendsFull),
            [
                new Ejection(1, _state.Backends[1] with { Ejected = true, Ejections = 1 }, TimeSpan.FromSeconds(30)),
                new SlowStartStep(0, _state.Backends[0], TimeSpan.FromSeconds(10)),
            ]);
        var pending = new List<(double Second, int Pending)>();
        foreach (var second in new[] { 4.0, 6.0, 11.0, 31.0 })
        {
            _scheduler.ScheduleAbsolute(Subscribed + Seconds(second), () => pending.Add((second, _timers.Pending)));
        }

        var results = Start(step);

        long at5 = Subscribed + Seconds(5), at10 = Subscribed + Seconds(10), at30 = Subscribed + Seconds(30);
        Assert.Equal(
            [
                OnNext(at5, new QueueTimedOut(7) { Time = At(at5) }),
                OnNext(at10, new SlowStartTick(A) { Time = At(at10) }),
                OnNext(at30, new EjectionExpired("10.0.0.2:80", 1) { Time = At(at30) }),
                OnCompleted(at30),
            ],
            results.Messages);
        Assert.Equal([(4.0, 3), (6.0, 2), (11.0, 1), (31.0, 0)], pending);
    }

    [Fact]
    public void Pending_CountsFromSubscriptionUntilTheTimerFires()
    {
        var timer = _timers.For(new Step(_state, new Queued(7, 1, QueueReason.ConnectionLimit)))!;
        Assert.Equal(0, _timers.Pending);

        var observer = _scheduler.CreateObserver<BalancerInput>();
        using (timer.Subscribe(observer))
        {
            Assert.Equal(1, _timers.Pending);
            _scheduler.AdvanceBy(s_queueTimeout.Ticks - 1);
            Assert.Equal(1, _timers.Pending);
            _scheduler.AdvanceBy(1);
            Assert.Equal(0, _timers.Pending);
        }

        // Disposed after it fired: not taken off a second time.
        Assert.Equal(0, _timers.Pending);
        Assert.Equal(2, observer.Messages.Count);
    }

    [Fact]
    public void Pending_DisposedBeforeItFires_GoesDownOnceAndNothingFires()
    {
        var ejection = new Step(_state, null, [new Ejection(0, _state.Backends[0] with { Ejected = true, Ejections = 1 }, TimeSpan.FromSeconds(30))]);
        var queued = new Step(_state, new Queued(7, 1, QueueReason.ConnectionLimit));
        var cancelled = _scheduler.CreateObserver<BalancerInput>();
        var kept = _scheduler.CreateObserver<BalancerInput>();
        var subscription = _timers.For(ejection)!.Subscribe(cancelled);
        using var other = _timers.For(queued)!.Subscribe(kept);
        Assert.Equal(2, _timers.Pending);

        _scheduler.AdvanceTo(Seconds(1));
        subscription.Dispose();
        Assert.Equal(1, _timers.Pending);
        subscription.Dispose();
        Assert.Equal(1, _timers.Pending);

        _scheduler.AdvanceTo(Seconds(60));
        Assert.Empty(cancelled.Messages);
        Assert.Equal([OnNext(Seconds(5), new QueueTimedOut(7) { Time = At(Seconds(5)) }), OnCompleted(Seconds(5))], kept.Messages);
        Assert.Equal(0, _timers.Pending);
    }

    [Fact]
    public void Pending_ResubscribedTimer_CountsEachSubscription()
    {
        var timer = _timers.For(new Step(_state, new Queued(7, 1, QueueReason.ConnectionLimit)))!;

        using var first = timer.Subscribe(_scheduler.CreateObserver<BalancerInput>());
        using var second = timer.Subscribe(_scheduler.CreateObserver<BalancerInput>());

        Assert.Equal(2, _timers.Pending);
        _scheduler.AdvanceBy(s_queueTimeout.Ticks);
        Assert.Equal(0, _timers.Pending);
    }

    private ITestableObserver<BalancerInput> Start(Step step) =>
        _scheduler.Start(() => _timers.For(step)!, created: 100, subscribed: Subscribed, disposed: s_disposed);

    private static DateTimeOffset At(long ticks) => new(ticks, TimeSpan.Zero);
}
