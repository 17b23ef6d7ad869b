using System.Reactive.Concurrency;
using System.Reactive.Linq;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Testing;

/// <summary>
/// The balancer's fold on its own, without sockets: the same code a <see cref="TcpLoadBalancer"/> runs to
/// place connections, retry them, and take failing backends out, driven by a stream of events you make.
/// Feed it a timeline on a virtual-time scheduler to test a strategy, or to simulate a workload, in milliseconds.
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
    /// <summary>Runs the fold with the built-in strategy named <paramref name="strategy"/> and default options.</summary>
    /// <param name="events">Arrivals, releases and the rest, in the order and at the (virtual) times they happen.</param>
    /// <param name="backends">The backends, as a balancer would be configured with them.</param>
    /// <param name="strategy">One of <see cref="LoadBalancingStrategies.All"/>; each subscription gets a fresh instance.</param>
    /// <param name="randomSeed">Seeds the strategies' random source; the same seed and events give the same decisions.</param>
    /// <returns>One step per event, in order: the decision made (if any), backend changes, and every backend's counts after it.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">The backends or the strategy name are invalid.</exception>
    public static IObservable<BalancingStep> Run(
        IObservable<BalancerEvent> events, IReadOnlyList<BackendOptions> backends, string strategy, int? randomSeed = null)
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
        IObservable<BalancerEvent> events, IReadOnlyList<BackendOptions> backends, ILoadBalancingStrategy strategy, int? randomSeed = null)
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
    /// Ends ejections on time: an <see cref="Ejection"/> schedules its <see cref="EjectionExpired"/> on it.
    /// Without one, an ejection ends only by a successful <see cref="HealthProbed"/> or an <see cref="EjectionExpired"/> you send.
    /// </param>
    /// <returns>One step per event, in order: the decision made (if any), backend changes, and every backend's counts after it.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">The options are invalid; every problem is listed.</exception>
    public static IObservable<BalancingStep> Run(IObservable<BalancerEvent> events, LoadBalancerOptions options, IScheduler? scheduler = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(options);
        LoadBalancerOptionsValidator.ThrowIfInvalid(options, requireListen: false);
        return Observable.Create<BalancingStep>(observer =>
        {
            // The same serializing stream the socket balancer uses: an event posted from inside a step's
            // handler (a simulated synchronous failure, an ejection's timer) is folded after it, never inside it.
            var feed = new SerializingSubject<BalancerEvent>();
            var strategy = options.CustomStrategy ?? LoadBalancingStrategies.Create(options.Strategy);
            var initial = BalancerState.Create(options.Backends, options.HealthCheck);
            var timers = new System.Reactive.Disposables.CompositeDisposable();
            var output = BalancerPipeline.Run(feed, initial, FoldPolicy.From(options, strategy))
                .Do(step => ScheduleTimers(step, options, scheduler, feed, timers))
                .Select(step => new BalancingStep(step.Decision, step.State.ToSnapshot(), step.Changes) { FromQueue = step.FromQueue })
                .Subscribe(observer);
            // Arrivals are stamped with the scheduler's time (for per-client rates) unless the caller did.
            var input = events
                .Select(e => e is ConnectionArrived { Time.Ticks: 0 } arrived && scheduler is not null ? arrived with { Time = scheduler.Now } : e)
                .Subscribe(feed);
            return () =>
            {
                input.Dispose();
                output.Dispose();
                timers.Dispose();
            };
        });
    }

    /// <summary>
    /// Schedules what <paramref name="step"/> asks to be timed on <paramref name="scheduler"/>: the end of
    /// every ejection, the next step of every slow start, and the queue timeout of a connection that started waiting.
    /// </summary>
    internal static void ScheduleTimers(
        Step step, LoadBalancerOptions options, IScheduler? scheduler, IObserver<BalancerEvent> feed,
        System.Reactive.Disposables.CompositeDisposable timers)
    {
        if (scheduler is null)
        {
            return;
        }

        foreach (var ejection in step.Changes.OfType<Ejection>())
        {
            Post(new EjectionExpired(ejection.Backend.Address, ejection.Backend.Ejections), ejection.Duration, scheduler, feed, timers);
        }

        foreach (var ramp in step.Changes.OfType<SlowStartStep>())
        {
            if (ramp.NextStepIn is { } due)
            {
                Post(new SlowStartTick(ramp.Backend.Address), due, scheduler, feed, timers);
            }
        }

        if (step.Decision is Queued queued)
        {
            Post(new QueueTimedOut(queued.ConnectionId), options.QueueTimeout, scheduler, feed, timers);
        }
    }

    /// <summary>
    /// Posts <paramref name="event"/> into the fold after <paramref name="due"/>. The timer leaves
    /// <paramref name="timers"/> when it fires, so a balancer that runs for months does not collect
    /// one per queued connection; what is left is cancelled when the balancer stops.
    /// </summary>
    internal static void Post(
        BalancerEvent @event, TimeSpan due, IScheduler scheduler, IObserver<BalancerEvent> feed,
        System.Reactive.Disposables.CompositeDisposable timers)
    {
        var timer = new System.Reactive.Disposables.SingleAssignmentDisposable();
        timers.Add(timer);
        timer.Disposable = scheduler.Schedule(due, () =>
        {
            timers.Remove(timer);
            feed.OnNext(@event);
        });
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
