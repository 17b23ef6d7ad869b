using System.Net;
using System.Reactive.Concurrency;
using System.Reactive.Linq;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Health;
using LoadBalancer.Reactive.Listening;

namespace LoadBalancer.Reactive;

/// <summary>
/// A layer-4 (TCP) load balancer: accepts client connections, picks a backend for each, relays bytes
/// both ways, and reports everything that happens on <see cref="Events"/>.
/// </summary>
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
public sealed partial class TcpLoadBalancer : IAsyncDisposable
{
    private readonly LoadBalancerOptions _options;
    private readonly IScheduler _scheduler;
    private readonly FoldPolicy _policy;
    // Every pending timer (ejections, slow start, queue timeouts, removal deadlines); each leaves when it fires.
    private readonly System.Reactive.Disposables.CompositeDisposable _timers = [];
    private readonly EventHub _events;
    private readonly Diagnostics.BalancerMetrics _metrics;
    private readonly Diagnostics.StatisticsRecorder _statistics = new();
    private readonly Microsoft.Extensions.Logging.ILogger _logger;
    private readonly SerializingSubject<BalancerEvent> _feed = new();
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile BalancerState _state;
    private IReadOnlyList<IPEndPoint> _listenEndPoints = [];
    private List<System.Net.Sockets.Socket> _listeners = [];
    private IDisposable? _accepting;
    private IDisposable? _folding;
    private ActiveHealthChecker? _healthChecker;
    private IDisposable? _discovery;
    private bool _started;
    private volatile bool _stopping;

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
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">The options are invalid; every problem is listed.</exception>
    public TcpLoadBalancer(
        LoadBalancerOptions options, IScheduler? scheduler = null, Microsoft.Extensions.Logging.ILogger<TcpLoadBalancer>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        LoadBalancerOptionsValidator.ThrowIfInvalid(options);
        _options = options;
        _scheduler = scheduler ?? Scheduler.Default;
        _policy = FoldPolicy.From(options, options.CustomStrategy ?? LoadBalancingStrategies.Create(options.Strategy));
        _state = BalancerState.Create(options.Backends, options.HealthCheck);
        _events = new EventHub(options.EventBufferCapacity, _scheduler);
        _metrics = new Diagnostics.BalancerMetrics(() => Snapshot);
        _termination = options.Tls.Enabled ? Tls.TlsTermination.Create(options.Tls, []) : null;
        _trustedProxies = [.. options.AcceptProxy.From.Select(network =>
            NetworkParser.TryParse(network, "AcceptProxy.From", out var parsed, out _) ? parsed : default)];
        _logger = (Microsoft.Extensions.Logging.ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
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
    public const string MeterName = Diagnostics.BalancerMetrics.MeterName;

    /// <summary>Every backend with its active and total connection counts, as of the latest event.</summary>
    public BalancerSnapshot Snapshot => _state.ToSnapshot();

    /// <summary>
    /// What a stats page shows: connections accepted, rejected, failed and queued since the start, and per
    /// backend its state (as <see cref="Snapshot"/>) with bytes relayed each way, completed connections and
    /// its last change of state. Counted from the events as they are published, so it never misses one.
    /// </summary>
    public Diagnostics.BalancerStatistics Statistics => _statistics.Read(Snapshot, _scheduler.Now);

    /// <summary>This balancer's meter, for tests that listen to one balancer among several.</summary>
    internal System.Diagnostics.Metrics.Meter Meter => _metrics.Meter;

    /// <summary>Timers waiting to fire (ejections, slow start, queue timeouts, removal deadlines).</summary>
    internal int PendingTimers => _timers.Count;

    /// <summary>Client connections the balancer holds right now: relayed, connecting or queued.</summary>
    internal int OpenConnections => Volatile.Read(ref _live);

    /// <summary>The endpoints listened on, with the ports actually bound; empty until started.</summary>
    public IReadOnlyList<IPEndPoint> ListenEndPoints => _listenEndPoints;

    /// <summary>Binds every listen endpoint and starts accepting connections.</summary>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <exception cref="IOException">A listen endpoint cannot be bound (for example, it is in use); the message names it.</exception>
    /// <exception cref="InvalidOperationException">The balancer was already started or stopped.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (_started || _stopping)
            {
                throw new InvalidOperationException("A balancer starts once; create a new one to start again.");
            }

            _started = true;
        }

        var listeners = new List<System.Net.Sockets.Socket>();
        try
        {
            foreach (var address in _options.Listen)
            {
                listeners.Add(ListenerFactory.Listen(address));
            }
        }
        catch
        {
            listeners.ForEach(listener => listener.Dispose());
            lock (_gate)
            {
                _stopping = true;
            }

            _events.Complete();
            _stopped.TrySetResult();
            throw;
        }

        _listeners = listeners;
        _listenEndPoints = [.. listeners.Select(listener => (IPEndPoint)listener.LocalEndPoint!)];
        _folding = BalancerPipeline.Run(_feed, _state, _policy).Subscribe(OnStep);
        _healthChecker = new ActiveHealthChecker(
            _state.Backends.Zip(_options.Backends, (backend, options) => (backend, options.HealthCheck ?? _options.HealthCheck)),
            _scheduler,
            (backend, check, cancellationToken) => TcpProbe.ProbeAsync(backend.EndPoint, check, _scheduler, cancellationToken),
            _feed.OnNext);
        // Each accepted client carries its listener's name as written in Listen, for that listener's access rules.
        _accepting = listeners
            .Zip(_options.Listen, (listener, name) => AcceptLoop.Observe(listener, _scheduler, error => OnAcceptFailed(listener, error))
                .Select(client => (Listener: listener, Name: name, Client: client)))
            .Merge()
            .Subscribe(accepted => OnAcceptedSafely(accepted.Listener, accepted.Name, accepted.Client));
        if (_options.DnsRefreshInterval > TimeSpan.Zero && Discovery.DnsDiscovery.HasHostNames(_options.Backends))
        {
            _discovery = FollowBackends(Discovery.DnsDiscovery.Watch(_options.Backends, _options.DnsRefreshInterval, _scheduler));
        }

        Publish(new BalancerStarted([.. _listenEndPoints]));
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
        bool first;
        lock (_gate)
        {
            first = !_stopping;
            _stopping = true;
            if (Volatile.Read(ref _live) == 0)
            {
                _idle.TrySetResult();
            }
        }

        if (!first)
        {
            await _stopped.Task.ConfigureAwait(false);
            return;
        }

        _accepting?.Dispose();
        _listeners.ForEach(listener => listener.Dispose());
        _discovery?.Dispose();
        _healthChecker?.Dispose();

        if (!_idle.Task.IsCompleted)
        {
            try
            {
                await _idle.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                AbortAll();
                await _idle.Task.ConfigureAwait(false);
            }
        }

        if (_started)
        {
            Publish(new BalancerStopped(_finishedWhileStopping, _abortedWhileStopping));
        }

        _folding?.Dispose();
        _timers.Dispose();
        _events.Complete();
        _metrics.Dispose();
        _stopped.TrySetResult();
    }

    /// <summary>Stops at once: like <see cref="StopAsync"/> with a deadline that has already passed.</summary>
    public async ValueTask DisposeAsync() => await StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);

    private void Publish(LoadBalancerEvent @event)
    {
        var stamped = @event with { Timestamp = _scheduler.Now };
        _metrics.Record(stamped);
        _statistics.Record(stamped);
        LogEvent(stamped);
        _events.Publish(stamped);
    }
}
