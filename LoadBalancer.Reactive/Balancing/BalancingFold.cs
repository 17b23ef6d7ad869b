using System.Reactive.Linq;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The balancer's fold on its own, without sockets: the same code a <see cref="TcpLoadBalancer"/> runs to
/// place connections, driven by a stream of arrivals and releases you make. Feed it a timeline on a
/// virtual-time scheduler to test a strategy, or to simulate a workload, in milliseconds.
/// </summary>
/// <example>
/// <code>
/// var scheduler = new HistoricalScheduler();
/// var events = Observable.Timer(TimeSpan.FromSeconds(1), scheduler).Select(_ => (BalancerEvent)new ConnectionArrived(1));
/// BalancingFold.Run(events, backends, LoadBalancingStrategies.RoundRobin)
///     .Subscribe(step => Console.WriteLine($"{scheduler.Now}: {step.Decision}"));
/// scheduler.Start();
/// </code>
/// </example>
public static class BalancingFold
{
    /// <summary>Runs the fold with the built-in strategy named <paramref name="strategy"/>.</summary>
    /// <param name="events">Arrivals and releases, in the order and at the (virtual) times they happen.</param>
    /// <param name="backends">The backends, as a balancer would be configured with them.</param>
    /// <param name="strategy">One of <see cref="LoadBalancingStrategies.All"/>; each subscription gets a fresh instance.</param>
    /// <param name="randomSeed">Seeds the strategies' random source; the same seed and events give the same decisions.</param>
    /// <returns>One step per event, in order: the decision made (if any) and every backend's counts after it.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">The backends or the strategy name are invalid.</exception>
    public static IObservable<BalancingStep> Run(
        IObservable<BalancerEvent> events, IReadOnlyList<BackendOptions> backends, string strategy, int? randomSeed = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(backends);
        ArgumentNullException.ThrowIfNull(strategy);
        ThrowIfInvalid(backends, strategy);
        return Observable.Defer(() => RunCore(events, backends, LoadBalancingStrategies.Create(strategy), randomSeed));
    }

    /// <summary>Runs the fold with a strategy of your own.</summary>
    /// <param name="events">Arrivals and releases, in the order and at the (virtual) times they happen.</param>
    /// <param name="backends">The backends, as a balancer would be configured with them.</param>
    /// <param name="strategy">The strategy; its state carries over between subscriptions.</param>
    /// <param name="randomSeed">Seeds <see cref="BalancingContext.Random"/>; the same seed and events give the same decisions.</param>
    /// <returns>One step per event, in order: the decision made (if any) and every backend's counts after it.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">The backends are invalid.</exception>
    public static IObservable<BalancingStep> Run(
        IObservable<BalancerEvent> events, IReadOnlyList<BackendOptions> backends, ILoadBalancingStrategy strategy, int? randomSeed = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(backends);
        ArgumentNullException.ThrowIfNull(strategy);
        ThrowIfInvalid(backends, strategyName: null);
        return Observable.Defer(() => RunCore(events, backends, strategy, randomSeed));
    }

    private static IObservable<BalancingStep> RunCore(
        IObservable<BalancerEvent> events, IReadOnlyList<BackendOptions> backends, ILoadBalancingStrategy strategy, int? randomSeed) =>
        Observable.Create<BalancingStep>(observer =>
        {
            // The same serializing stream the socket balancer uses: a release posted from inside a
            // decision handler (a simulated synchronous failure) is folded after it, never inside it.
            var feed = new SerializingSubject<BalancerEvent>();
            var random = randomSeed is { } seed ? new Random(seed) : new Random();
            var output = BalancerPipeline.Run(feed, BalancerState.Create(backends), strategy, random)
                .Select(step => new BalancingStep(step.Decision, step.State.ToSnapshot()))
                .Subscribe(observer);
            var input = events.Subscribe(feed);
            return () =>
            {
                input.Dispose();
                output.Dispose();
            };
        });

    private static void ThrowIfInvalid(IReadOnlyList<BackendOptions> backends, string? strategyName)
    {
        var errors = LoadBalancerOptionsValidator.ValidateBackendsAndStrategy(backends, strategyName);
        if (errors.Count > 0)
        {
            throw new LoadBalancerOptionsException(errors);
        }
    }
}

/// <summary>One turn of the fold, as <see cref="BalancingFold.Run(IObservable{BalancerEvent}, IReadOnlyList{BackendOptions}, string, int?)"/> reports it.</summary>
/// <param name="Decision">What was decided: an <see cref="Assignment"/>, a <see cref="Rejection"/>, a <see cref="Release"/>, or null when the event changed nothing.</param>
/// <param name="Snapshot">Every backend's counts after the event.</param>
public sealed record BalancingStep(Decision? Decision, BalancerSnapshot Snapshot);
