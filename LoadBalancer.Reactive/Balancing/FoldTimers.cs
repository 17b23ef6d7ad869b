using System.Reactive.Concurrency;
using System.Reactive.Disposables;
using System.Reactive.Linq;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The timers steps ask for, as observables of the inputs they will fold: the end of an ejection, the next
/// step of a slow start, the queue timeout of a connection that started waiting, the close deadline of a
/// removed backend. Each fires once and is then forgotten; stopping the loop cancels what has not fired.
/// </summary>
/// <param name="queueTimeout">How long a queued connection may wait.</param>
/// <param name="scheduler">The clock; virtual time in tests.</param>
internal sealed class FoldTimers(TimeSpan queueTimeout, IScheduler scheduler)
{
    private int _pending;

    /// <summary>How long a connection queued from now on may wait (a reconfiguration changes it live).</summary>
    public TimeSpan QueueTimeout { get; set; } = queueTimeout;

    /// <summary>Timers waiting to fire.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>The timers <paramref name="step"/> asks for, or null when it asks for none.</summary>
    public IObservable<BalancerInput>? For(in Step step)
    {
        List<IObservable<BalancerInput>>? timers = null;
        foreach (var change in step.Changes)
        {
            var timer = change switch
            {
                Ejection ejection => After(ejection.Duration, new EjectionExpired(ejection.Backend.Address, ejection.Backend.Ejections)),
                SlowStartStep { NextStepIn: { } due } ramp => After(due, new SlowStartTick(ramp.Backend.Address)),
                MembershipChange { Kind: Events.MembershipChangeKind.DrainStarted, CloseAfter: { } deadline } drain =>
                    After(deadline, new CloseDeadlinePassed(drain.Backend.Address, drain.Backend.Removal)),
                _ => null,
            };
            if (timer is not null)
            {
                (timers ??= []).Add(timer);
            }
        }

        if (step.Decision is Queued queued)
        {
            (timers ??= []).Add(After(QueueTimeout, new QueueTimedOut(queued.ConnectionId)));
        }

        return timers switch
        {
            null => null,
            [var one] => one,
            _ => timers.Merge(),
        };
    }

    // Stamped when it fires, so the fold (and the events projected from it) see the time it happened.
    private IObservable<BalancerInput> After(TimeSpan due, BalancerInput input) => Observable.Create<BalancerInput>(observer =>
    {
        Interlocked.Increment(ref _pending);
        var waiting = 1;
        void Leave()
        {
            if (Interlocked.Exchange(ref waiting, 0) == 1)
            {
                Interlocked.Decrement(ref _pending);
            }
        }

        var timer = scheduler.Schedule(due, () =>
        {
            Leave();
            observer.OnNext(input with { Time = scheduler.Now });
            observer.OnCompleted();
        });
        return new CompositeDisposable(timer, Disposable.Create(Leave));
    });
}
