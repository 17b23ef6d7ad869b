using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Reactive.Concurrency;
using System.Reactive.Disposables;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Connections;
using LoadBalancer.Reactive.Diagnostics;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Health;
using LoadBalancer.Reactive.Listening;
using LoadBalancer.Reactive.Pipeline;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LoadBalancer.Reactive;

/// <summary>
/// A layer-4 (TCP) load balancer: accepts client connections, picks a backend for each, relays bytes
/// both ways, and reports everything that happens on <see cref="Events"/>.
/// </summary>
/// <remarks>
/// One composed stream: accepted clients (after their preface) and operator commands are folded one at a time
/// into the balancer's state; each step's work (connecting, relaying, timers) feeds its outcome back into the
/// fold; the public events are projected from the steps. This class only wires those pieces together.
/// </remarks>
/// <example>
/// <code>
/// await using var balancer = new TcpLoadBalancer(new LoadBalancerOptions
/// {
///     Listen = ["127.0.0.1:8000"],
///     Backends = [new BackendOptions("127.0.0.1:8081"), new BackendOptions("127.0.0.1:8082")],
/// });
/// using var log = balancer.Events.Subscribe(e => Console.WriteLine(e));
/// await balancer.StartAsync();
/// </code>
/// </example>
public sealed class TcpLoadBalancer : IAsyncDisposable
{
    private readonly BalancerModel _model;
    private readonly IScheduler _scheduler;
    private readonly BackendCatalog _backends;
    private readonly ConnectionRegistry _connections = new();
    private readonly SerializingSubject<BalancerInput> _feed = new();
    private readonly Subject<BalancerInput> _inputLog = new();
    private readonly FoldTimers _timers;
    private readonly Reconfiguration _live;
    private readonly Arrivals _arrivals;
    private readonly EventHub _events;
    private readonly BalancerMetrics _metrics;
    private readonly StatisticsRecorder _statistics = new();
    private readonly BalancerLog _log;
    private readonly EventPublisher _publisher;
    private readonly MembershipCommands _membership;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile BalancerState _state;
    private IReadOnlyList<IPEndPoint> _listenEndPoints = [];
    private readonly List<Socket> _listeners = [];
    private IDisposable _running = Disposable.Empty;
    private IDisposable _discovery = Disposable.Empty;
    private ActiveHealthChecker? _health;
    private bool _started;
    private bool _stopping;

    /// <summary>Creates a balancer; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="options">What to listen on, the backends, the strategy and the timeouts.</param>
    /// <param name="scheduler">
    /// Times every wait (connect timeouts, pauses after failures) and stamps events. Default:
    /// <see cref="Scheduler.Default"/>. Pass a virtual-time scheduler to test timing without waiting.
    /// </param>
    /// <param name="logger">
    /// Where to log start and stop, backend health and membership, and problems (Information and above),
    /// and every connection event (Debug). Default: no logging.
    /// </param>
    /// <param name="meterFactory">
    /// Creates the balancer's <see cref="System.Diagnostics.Metrics.Meter"/> (a host's, for dependency-injected metrics);
    /// default: a meter of the balancer's own.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">The options are invalid, or a certificate cannot be loaded; every problem is listed.</exception>
    public TcpLoadBalancer(
        LoadBalancerOptions options, IScheduler? scheduler = null, ILogger<TcpLoadBalancer>? logger = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _model = BalancerModel.Build(options);
        _scheduler = scheduler ?? Scheduler.Default;
        _state = BalancerState.Create(options.Backends, options.HealthCheck);
        _backends = new BackendCatalog(_model.Backends);
        _timers = new FoldTimers(options.QueueTimeout, _scheduler);
        _events = new EventHub(options.EventBufferCapacity, _scheduler);
        _metrics = new BalancerMetrics(options.Name, () => Snapshot, meterFactory);
        var log = (ILogger?)logger ?? NullLogger.Instance;
        _log = new BalancerLog(log, _scheduler, options.AccessLog);
        _publisher = new EventPublisher(_metrics, _statistics, _log, _events);
        var members = new DesiredMembership(() => _state.Backends, _model.Options.Backends);
        _live = new Reconfiguration(_model, _backends, _connections, _timers, _log, _scheduler, members, () => _health, Post);
        _membership = new MembershipCommands(_backends, () => _live.Options.HealthCheck, members, Post);
        _arrivals = new Arrivals(_model, _connections, _scheduler, log);
    }

    /// <summary>
    /// Everything that happens, as it happens: connections accepted, assigned, completed, failed or
    /// rejected, and the balancer starting and stopping. Hot: a subscriber sees what happens after it
    /// subscribes. Each subscriber is called on its own thread-pool queue, one event at a time; one that
    /// throws or falls behind never slows or stops the balancer. The stream completes when the balancer
    /// has stopped.
    /// </summary>
    public IObservable<LoadBalancerEvent> Events => _events;

    /// <summary>
    /// The name of the <see cref="System.Diagnostics.Metrics.Meter"/> balancers publish their instruments on
    /// (connections accepted, completed, failed and rejected; active connections and availability per backend;
    /// bytes each way; connect time and connection duration), for OpenTelemetry or <c>dotnet-counters</c>.
    /// </summary>
    public const string MeterName = BalancerMetrics.MeterName;

    /// <summary>Every backend with its active and total connection counts, as of the latest event.</summary>
    public BalancerSnapshot Snapshot => _state.ToSnapshot();

    /// <summary>
    /// What a stats page shows: connections accepted, rejected, failed and queued since the start, and per
    /// backend its state (as <see cref="Snapshot"/>) with bytes relayed each way, completed connections and
    /// its last change of state. Counted from the events as they are published, so it never misses one.
    /// </summary>
    public BalancerStatistics Statistics => _statistics.Read(Snapshot, _scheduler.Now);

    /// <summary>The endpoints listened on, with the ports actually bound; empty until started.</summary>
    public IReadOnlyList<IPEndPoint> ListenEndPoints => _listenEndPoints;

    /// <summary>This balancer's meter, for tests that listen to one balancer among several.</summary>
    internal System.Diagnostics.Metrics.Meter Meter => _metrics.Meter;

    /// <summary>Timers waiting to fire (ejections, slow start, queue timeouts, removal deadlines).</summary>
    internal int PendingTimers => _timers.Pending;

    /// <summary>Every input the fold folds, in the order it folds them (hot), for tests that replay the balancer.</summary>
    internal IObservable<BalancerInput> InputLog => _inputLog;

    /// <summary>Client connections the balancer holds right now: reading their preface, queued, connecting or relayed.</summary>
    internal int OpenConnections => _connections.Count;

    /// <summary>
    /// Where the balancer is in its life, read from the start and stop that set it (without their lock: a health
    /// check may see a transition a moment late).
    /// </summary>
    internal BalancerLifecycle Lifecycle => BalancerLifecycles.Of(_stopped.Task.IsCompleted, _stopping, _listenEndPoints.Count > 0);

    /// <summary>Whether, with no backend available, connections go to every weighted backend rather than being rejected.</summary>
    internal bool PanicMode => _live.Options.PanicMode;

    /// <summary>The options the balancer runs with, for the runtime API's <c>show info</c>.</summary>
    internal LoadBalancerOptions Options => _model.Options;

    /// <summary>Connections waiting in the queue for a free slot right now.</summary>
    internal int QueueLength => _state.Queue.Count;

    /// <summary>Binds every listen endpoint and starts accepting connections.</summary>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <exception cref="IOException">A listen endpoint cannot be bound (for example, it is in use); the message names it.</exception>
    /// <exception cref="InvalidOperationException">The balancer was already started or stopped.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();

        // Under the lifecycle lock: a stop sees the balancer either not started or wholly wired.
        lock (_gate)
        {
            if (_started || _stopping)
            {
                throw new InvalidOperationException("A balancer starts once; create a new one to start again.");
            }

            try
            {
                foreach (var address in _model.Options.Listen)
                {
                    _listeners.Add(ListenerFactory.Listen(address));
                }
            }
            catch
            {
                _listeners.ForEach(listener => listener.Dispose());
                _stopping = true;
                _connections.Close();
                _events.Complete();
                _stopped.TrySetResult();
                throw;
            }

            _started = true;
            Wire();
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops accepting at once, lets open connections finish until <paramref name="cancellationToken"/>
    /// is cancelled, then closes the rest. Completes when nothing is open any more. Safe to call more
    /// than once; later calls wait for the first.
    /// </summary>
    /// <param name="cancellationToken">Cancel it to close the connections still open (the drain deadline).</param>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        bool first, started;
        lock (_gate)
        {
            (first, started, _stopping) = (!_stopping, _started, true);
        }

        if (!first)
        {
            await _stopped.Task.ConfigureAwait(false);
            return;
        }

        if (!started)
        {
            _connections.Close();
            _events.Complete();
            _metrics.Dispose();
            _stopped.TrySetResult();
            return;
        }

        // From here every connection that leaves is counted; nothing new is accepted, discovered or probed.
        Post(new StopRequested());
        _discovery.Dispose();
        _connections.Close();
        _listeners.ForEach(listener => listener.Dispose());
        _health?.Dispose();
        try
        {
            await _connections.Idle.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Post(new StopDeadlinePassed());
            _connections.AbortAll();
            await _connections.Idle.ConfigureAwait(false);
        }

        // The last input: the stop is folded and published, then the stream of steps, and of events, completes.
        Post(new StopFinished());
        _feed.OnCompleted();
        await _publisher.Completed.ConfigureAwait(false);
        _inputLog.OnCompleted();
        _running.Dispose();
        _metrics.Dispose();
        _stopped.TrySetResult();
    }

    /// <summary>Stops at once: like <see cref="StopAsync"/> with a deadline that has already passed.</summary>
    public async ValueTask DisposeAsync() => await StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);

    /// <summary>Adds a backend; it takes new connections at once. Adding a backend that is draining resumes it.</summary>
    /// <param name="backend">The backend, validated as configured backends are.</param>
    /// <exception cref="ArgumentNullException"><paramref name="backend"/> is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">The backend is invalid, or already a member; the message says which.</exception>
    public void AddBackend(BackendOptions backend) => _membership.Add(backend);

    /// <summary>
    /// Removes a backend: it takes no new connections, and leaves once its open connections have ended
    /// (a <see cref="BackendMembershipChanged"/> says when).
    /// </summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <param name="closeAfter">When set, connections still open this long after the removal are closed.</param>
    /// <exception cref="ArgumentException">No backend has that address.</exception>
    public void RemoveBackend(string address, TimeSpan? closeAfter = null) => _membership.Remove(address, closeAfter);

    /// <summary>Drains a backend: it takes no new connections and its open ones finish. Enable it (or add it again) to resume it.</summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <exception cref="ArgumentException">No backend has that address.</exception>
    public void DrainBackend(string address) => _membership.Drain(address);

    /// <summary>Puts a backend in maintenance: no new connections and no health probes; open connections carry on.</summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <exception cref="ArgumentException">No backend has that address.</exception>
    public void DisableBackend(string address) => _membership.Disable(address);

    /// <summary>Puts a disabled or draining backend back in service; a removal under way is called off.</summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <exception cref="ArgumentException">No backend has that address.</exception>
    public void EnableBackend(string address) => _membership.Enable(address);

    /// <summary>Changes a backend's weight; new connections follow it at once.</summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <param name="weight">The new weight, 0 to 10,000.</param>
    /// <exception cref="ArgumentException">No backend has that address.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The weight is outside 0-10,000.</exception>
    public void SetWeight(string address, int weight) => _membership.SetWeight(address, weight);

    /// <summary>
    /// Makes the members exactly <paramref name="backends"/>: new ones join, missing ones are removed
    /// (drained first), changed weights apply. The whole set is validated first; an invalid one changes nothing.
    /// </summary>
    /// <param name="backends">Every backend that should be a member.</param>
    /// <exception cref="LoadBalancerOptionsException">The set is invalid; every problem is listed.</exception>
    public void UpdateBackends(IReadOnlyList<BackendOptions> backends) => _membership.Update(backends);

    /// <summary>
    /// Follows a stream of backend sets from your own service discovery: each set is applied as by
    /// <see cref="UpdateBackends"/>. An invalid set is skipped (the previous one stays) and reported as
    /// a <see cref="MembershipRejected"/> event; a failing stream stops being followed and is reported as a
    /// <see cref="DiscoveryFailed"/> event; its end stops following.
    /// </summary>
    /// <param name="backendSets">Every set of backends, as it changes.</param>
    /// <returns>Dispose to stop following.</returns>
    public IDisposable FollowBackends(IObservable<IReadOnlyList<BackendOptions>> backendSets) => _membership.Follow(backendSets);

    /// <summary>
    /// Applies new options while the balancer runs. Validated whole first (certificates loaded): if anything is wrong, a
    /// <see cref="LoadBalancerOptionsException"/> lists every problem and nothing is applied. Then what can change live
    /// does, at once, without dropping a connection: backends (joins, removals, weights and states as by
    /// <see cref="UpdateBackends"/>, and each one's limit, pool, health check, TLS and PROXY settings), health checks
    /// (probes restart with the new settings), outlier detection, connect attempts, timeouts and limits, the queue,
    /// slow start, panic mode, client access rules and per-client limits, the access log, the TLS certificate (new
    /// handshakes use it; open connections keep theirs) and SNI routes. Settings that govern connections apply to
    /// those arriving (or assigned, or queued) from then on. A <see cref="ConfigurationChanged"/> event names what
    /// changed. A backend's weight and state apply when the new options say something new about them, so an operator's
    /// drain, maintenance or weight is kept while the configuration says the same as before.
    /// </summary>
    /// <remarks>
    /// Need a restart, and keep their value until then: <c>Name</c>, <c>Listen</c>, <c>Strategy</c>,
    /// <c>CustomStrategy</c>, <c>RandomSeed</c>, <c>DnsRefreshInterval</c>, <c>FirstByteTimeout</c>, <c>AcceptProxy</c>,
    /// <c>Sni:HelloTimeout</c>, <c>EventBufferCapacity</c>, TLS or SNI routing turned on or off, and <c>Backends</c>
    /// while a discovery source (DNS, etcd, <see cref="FollowBackends"/>) follows the members. A certificate file renewed
    /// in place is loaded again by every call.
    /// </remarks>
    /// <param name="options">The whole new configuration, as for a new balancer.</param>
    /// <returns>
    /// The configuration key paths, relative to the balancer's section (<c>Listen</c>, <c>Strategy</c>,
    /// <c>AcceptProxy:From</c>...), of settings that differ from those the balancer started with but need a restart;
    /// empty when everything that changed was applied.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">The options are invalid, or a certificate cannot be loaded; every problem is listed.</exception>
    public IReadOnlyList<string> Reconfigure(LoadBalancerOptions options) => _live.Apply(options);

    /// <summary>Publishes what a discovery source reports about itself (its store lost or back, an entry ignored) as an event.</summary>
    internal void Report(DiscoveryReported report) => Post(new Reported(report));

    // Accepted clients become arrivals (after their preface); with the operator's calls, the probes' results and the
    // relays' byte counts (sampled each second) they are posted into one feed and folded one at a time, and every
    // step is projected into the public events.
    private void Wire()
    {
        _listenEndPoints = [.. _listeners.Select(listener => (IPEndPoint)listener.LocalEndPoint!)];
        var folding = FeedbackLoop.Run(_feed, _state, FoldPolicy.From(_model.Options), Work, _log.WorkFaulted)
            .Do(Folded)
            .Subscribe(_publisher);
        Post(new Reported(new BalancerStarted([.. _listenEndPoints])));
        _running = new CompositeDisposable(
            folding,
            _listeners
                .Select((listener, i) => _arrivals.From(listener, _model.Options.Listen[i], _listenEndPoints[i], Post))
                .Merge()
                .Subscribe(_feed.OnNext, _log.WorkFaulted),
            new RelaySampler(_connections, _scheduler).Flushes().Subscribe(_feed.OnNext, _log.WorkFaulted));
        _health = ActiveHealthChecker.OverTcp(_state.Backends, _backends, _scheduler, Post);
        _discovery = _model.Options.DnsRefreshInterval > TimeSpan.Zero && Discovery.DnsDiscovery.HasHostNames(_model.Options.Backends)
            ? FollowBackends(Discovery.DnsDiscovery.Watch(_model.Options.Backends, _model.Options.DnsRefreshInterval, _scheduler))
            : Disposable.Empty;
    }

    // Every input from outside the fold's own work enters here, stamped with the time it happened. The feed
    // queues what comes before the loop runs, and never makes the poster wait.
    private void Post(BalancerInput input) => _feed.OnNext(input.Time.Ticks == 0 ? input with { Time = _scheduler.Now } : input);

    // The state hosts read (Snapshot) moves on before the step's events are published; the input goes to the log.
    private void Folded(Step step)
    {
        _state = step.State;
        _inputLog.OnNext(step.Input!);
    }

    // What a step sets going: probes for backends that joined, its timers, and its connections' work.
    private IObservable<BalancerInput>? Work(Step step)
    {
        _health?.Follow(step, _backends);
        var timers = _timers.For(step);
        var connections = _live.Connections.For(step);
        return timers is null ? connections : connections is null ? timers : timers.Merge(connections);
    }

}
