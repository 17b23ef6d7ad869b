using System.Reactive.Concurrency;
using System.Reactive.Linq;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Testing;

/// <summary>
/// The balancer's fold on its own, without sockets: the same feedback loop a <see cref="TcpLoadBalancer"/> runs to
/// place connections, retry them, and take failing backends out, driven by a stream of inputs you make.
/// Feed it a timeline on a virtual-time scheduler to test a strategy, or to simulate a workload, in milliseconds.
/// </summary>
/// <example>
/// With Microsoft.Reactive.Testing (see examples/StrategyTesting for the package references):
/// <code>
/// var scheduler = new TestScheduler();
/// var inputs = scheduler.CreateHotObservable(
///     OnNext&lt;BalancerInput&gt;(100, new ConnectionArrived(1)),
///     OnNext&lt;BalancerInput&gt;(200, new ConnectionArrived(2)),
///     OnNext&lt;BalancerInput&gt;(300, new ConnectionEnded(1)));
/// var decisions = scheduler.Start(
///     () =&gt; BalancingFold.Run(inputs, backends, LoadBalancingStrategies.LeastConnections).Select(step =&gt; step.Decision),
///     created: 0, subscribed: 50, disposed: 1_000);
/// // decisions.Messages: the decision at each virtual tick, to assert exactly.
/// </code>
/// </example>
public static class BalancingFold
{
    /// <summary>Runs the fold with the built-in strategy named <paramref name="strategy"/> and default options.</summary>
    /// <param name="events">Arrivals, releases and the rest, in the order and at the (virtual) times they happen.</param>
    /// <param name="backends">The backends, as a balancer would be configured with them.</param>
    /// <param name="strategy">One of <see cref="LoadBalancingStrategies.All"/>; each subscription gets a fresh instance.</param>
    /// <param name="randomSeed">Seeds the strategies' random source; the same seed and events give the same decisions.</param>
    /// <returns>One step per event, in order: the decision made (if any), backend changes, and every backend's counts after it.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">The backends or the strategy name are invalid.</exception>
    public static IObservable<BalancingStep> Run(
        IObservable<BalancerInput> events, IReadOnlyList<BackendOptions> backends, string strategy, int? randomSeed = null)
    {
        ArgumentNullException.ThrowIfNull(backends);
        ArgumentNullException.ThrowIfNull(strategy);
        return Run(events, new LoadBalancerOptions { Backends = backends, Strategy = strategy, RandomSeed = randomSeed });
    }

    /// <summary>Runs the fold with a strategy of your own and default options.</summary>
    /// <param name="events">Arrivals, releases and the rest, in the order and at the (virtual) times they happen.</param>
    /// <param name="backends">The backends, as a balancer would be configured with them.</param>
    /// <param name="strategy">The strategy; its state carries over between subscriptions.</param>
    /// <param name="randomSeed">Seeds <see cref="BalancingContext.Random"/>; the same seed and events give the same decisions.</param>
    /// <returns>One step per event, in order: the decision made (if any), backend changes, and every backend's counts after it.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">The backends are invalid.</exception>
    public static IObservable<BalancingStep> Run(
        IObservable<BalancerInput> events, IReadOnlyList<BackendOptions> backends, ILoadBalancingStrategy strategy, int? randomSeed = null)
    {
        ArgumentNullException.ThrowIfNull(backends);
        ArgumentNullException.ThrowIfNull(strategy);
        return Run(events, new LoadBalancerOptions { Backends = backends, CustomStrategy = strategy, RandomSeed = randomSeed });
    }

    /// <summary>
    /// Runs the fold with a balancer's options: backends, strategy, connect attempts, outlier detection,
    /// panic mode, seed. (Listen endpoints and timeouts are for sockets, and are ignored.)
    /// </summary>
    /// <param name="events">Arrivals, releases and the rest, in the order and at the (virtual) times they happen.</param>
    /// <param name="options">The options, validated as a balancer's are (but for <see cref="LoadBalancerOptions.Listen"/>).</param>
    /// <param name="scheduler">
    /// Times what the fold asks to be timed, as a balancer does: the end of an ejection, each step of a slow start,
    /// a queued connection's timeout, a removed backend's close deadline; inputs are stamped with its clock. Without
    /// one nothing is timed: an ejection ends only by a successful <see cref="HealthProbed"/>, a queued connection
    /// waits until a slot frees, and a slow start stays at its first step.
    /// </param>
    /// <returns>One step per event, in order: the decision made (if any), backend changes, and every backend's counts after it.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">The options are invalid; every problem is listed.</exception>
    public static IObservable<BalancingStep> Run(IObservable<BalancerInput> events, LoadBalancerOptions options, IScheduler? scheduler = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(options);
        LoadBalancerOptionsValidator.ThrowIfInvalid(options, requireListen: false);
        // Inputs are stamped with the scheduler's time (for per-client rates) unless the caller did; the same
        // feedback loop as a balancer's folds them, with the fold's timers as the only work. Each subscription
        // gets its own state, random source and (for a named strategy) strategy instance.
        var stamped = scheduler is null ? events : events.Select(input => input.Time.Ticks == 0 ? input with { Time = scheduler.Now } : input);
        return Observable.Defer(() =>
            {
                var timers = scheduler is null ? null : new FoldTimers(options.QueueTimeout, scheduler);
                return FeedbackLoop.Run(
                    stamped,
                    BalancerState.Create(options.Backends, options.HealthCheck),
                    FoldPolicy.From(options),
                    step => timers?.For(step),
                    onFault: static _ => { });
            })
            .Select(step => new BalancingStep(step.Decision, step.State.ToSnapshot(), step.Changes) { FromQueue = step.FromQueue });
    }
}

/// <summary>One turn of the fold, as <see cref="BalancingFold"/> reports it.</summary>
/// <param name="Decision">What was decided about the event's connection: an <see cref="Assignment"/>, <see cref="Queued"/>, <see cref="Rejection"/>, <see cref="GiveUp"/>, <see cref="Release"/>, or null.</param>
/// <param name="Snapshot">Every backend's health and counts after the event.</param>
/// <param name="Changes">What changed about backends as a whole: <see cref="HealthChange"/>, <see cref="Ejection"/>, <see cref="EjectionEnded"/>.</param>
public sealed record BalancingStep(Decision? Decision, BalancerSnapshot Snapshot, IReadOnlyList<BackendChange> Changes)
{
    /// <summary>Queued connections this event made room for, placed in queue order.</summary>
    public IReadOnlyList<Assignment> FromQueue { get; init; } = [];
}
