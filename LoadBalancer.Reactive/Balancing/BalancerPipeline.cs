using System.Reactive.Linq;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>The fold: one serialized stream of events, scanned by <see cref="BalancerReducer.Reduce"/>.</summary>
internal static class BalancerPipeline
{
    /// <summary>
    /// Folds <paramref name="events"/> into steps, starting from <paramref name="initial"/>. The caller
    /// serializes the events (see <see cref="SerializingSubject{T}"/>); the fold trusts that it is never
    /// entered twice at once.
    /// </summary>
    /// <remarks>A <see cref="Reconfigured"/> input swaps the policy for its own step and every later one.</remarks>
    public static IObservable<Step> Run(IObservable<BalancerInput> events, BalancerState initial, FoldPolicy policy) =>
        events.Scan(
                (Step: new Step(initial, null), Policy: policy),
                (folded, @event) =>
                {
                    var rules = folded.Policy.After(@event);
                    return (BalancerReducer.Reduce(folded.Step.State, @event, rules), rules);
                })
            .Select(folded => folded.Step);
}
