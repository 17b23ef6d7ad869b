using System.Reactive.Disposables;
using System.Reactive.Linq;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The balancer's heart, as one composed stream: inputs enter one serialized feed, <c>Scan</c> folds them
/// into steps, each step's work (connecting, relaying, timers) is an observable of further inputs, and those
/// are merged back into the feed. This is the only place the loop is closed.
/// </summary>
/// <remarks>
/// The feed is a <see cref="SerializingSubject{T}"/>: anything may post to it from any thread, before the loop
/// runs (it waits) or while a step is being delivered (it is folded after); the fold is never entered twice at
/// once, and a producer never waits for the fold. The work of every step runs in one <see cref="WorkGroup"/>.
/// </remarks>
internal static class FeedbackLoop
{
    /// <summary>Folds what is posted to <paramref name="feed"/> and the inputs its steps' work produces, one at a time.</summary>
    /// <param name="feed">Where inputs are posted from outside (arrivals, probes, operator calls); its end ends the loop.</param>
    /// <param name="initial">The state before the first input.</param>
    /// <param name="policy">The fold's rules.</param>
    /// <param name="work">What a step sets going: null or an observable of the inputs it will produce.</param>
    /// <param name="onFault">Told when work fails (a bug): that work's inputs are lost, the loop and all other work go on.</param>
    /// <returns>Every step, in order, each delivered before its work starts. One subscription runs the loop.</returns>
    public static IObservable<Step> Run(
        SerializingSubject<BalancerInput> feed, BalancerState initial, FoldPolicy policy, Func<Step, IObservable<BalancerInput>?> work, Action<Exception> onFault) =>
        Observable.Create<Step>(observer =>
        {
            var group = new WorkGroup(feed, onFault);
            var folding = BalancerPipeline.Run(feed, initial, policy).Subscribe(
                step =>
                {
                    observer.OnNext(step);
                    group.Start(step, work);
                },
                observer.OnError,
                observer.OnCompleted);
            return new CompositeDisposable(folding, group);
        });

    /// <summary>
    /// Folds <paramref name="inputs"/> (and what their steps' work produces) on a feed of its own; the loop ends when
    /// <paramref name="inputs"/> do. Each subscription runs a loop of its own.
    /// </summary>
    public static IObservable<Step> Run(
        IObservable<BalancerInput> inputs, BalancerState initial, FoldPolicy policy, Func<Step, IObservable<BalancerInput>?> work, Action<Exception> onFault) =>
        Observable.Create<Step>(observer =>
        {
            var feed = new SerializingSubject<BalancerInput>();
            var steps = Run(feed, initial, policy, work, onFault).Subscribe(observer);
            return new CompositeDisposable(inputs.Subscribe(feed), steps);
        });
}
