using System.Reactive.Disposables;
using System.Reactive.Linq;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The balancer's heart, as one composed stream: inputs enter one serialized feed, <c>Scan</c> folds them
/// into steps, each step's work (connecting, relaying, timers) is an observable of further inputs, and those
/// are merged back into the feed. This is the only place the loop is closed.
/// </summary>
/// <remarks>
/// The feed is a <see cref="SerializingSubject{T}"/>: work may emit from any thread, or synchronously while
/// the step that started it is still being delivered; either way the fold is never entered twice at once.
/// </remarks>
internal static class FeedbackLoop
{
    /// <summary>Folds <paramref name="inputs"/> and the inputs their steps' work produces, one at a time.</summary>
    /// <param name="inputs">Inputs from outside the loop (arrivals, probes, operator commands); their end ends the loop.</param>
    /// <param name="initial">The state before the first input.</param>
    /// <param name="policy">The fold's rules.</param>
    /// <param name="work">What a step sets going: null or an observable of the inputs it will produce. It must not fail.</param>
    /// <param name="onFault">Told if work fails anyway; the loop goes on without that work's inputs.</param>
    /// <returns>Every step, in order; hot once subscribed (one subscription runs one loop).</returns>
    public static IObservable<Step> Run(
        IObservable<BalancerInput> inputs, BalancerState initial, FoldPolicy policy, Func<Step, IObservable<BalancerInput>?> work, Action<Exception> onFault) =>
        Observable.Create<Step>(observer =>
        {
            var feed = new SerializingSubject<BalancerInput>();
            var steps = BalancerPipeline.Run(feed, initial, policy).Publish();
            var output = steps.Subscribe(observer);
            var feedback = steps
                .Select(work)
                .Where(produced => produced is not null)
                .Select(produced => produced!)
                .Merge()
                .Subscribe(feed.OnNext, onFault);
            var folding = steps.Connect();
            var outside = inputs.Subscribe(feed);
            return new CompositeDisposable(outside, feedback, folding, output);
        });
}
