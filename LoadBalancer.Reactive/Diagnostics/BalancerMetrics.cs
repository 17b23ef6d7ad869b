using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Diagnostics;

/// <summary>
/// The balancer's instruments, on a <see cref="Meter"/> named <see cref="MeterName"/>, so OpenTelemetry and
/// <c>dotnet-counters</c> read them with no extra code. Counters and histograms are derived from the
/// balancer's events as they are published (before any subscriber could drop one); active connections
/// and health are read from the fold's state when a listener asks. Attributes follow OpenTelemetry's semantic
/// conventions where they exist: the backend is <c>server.address</c> and <c>server.port</c>, bytes carry
/// <c>network.io.direction</c> (<c>transmit</c> to the backend, <c>receive</c> from it), failures <c>error.type</c>;
/// every measurement carries the balancer's name as <c>loadbalancer.name</c>, so balancers in one process are
/// told apart.
/// </summary>
internal sealed class BalancerMetrics : IDisposable
{
    /// <summary>The name of the meter every balancer publishes on.</summary>
    public const string MeterName = "LoadBalancer.Reactive";

    // Connect times: a backend on the same host answers in well under a millisecond, one that times out in seconds.
    private static readonly double[] s_connectBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    // Connection durations: from a one-request connection (milliseconds) to a database session held for hours.
    private static readonly double[] s_durationBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 14400, 86400];

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly ConcurrentDictionary<string, (string Host, int Port)> _servers = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>This balancer's meter (each balancer has its own, all named <see cref="MeterName"/>).</summary>
    public Meter Meter => _meter;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _completed;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _bytes;
    private readonly Histogram<double> _connectTime;
    private readonly Histogram<double> _duration;

    /// <param name="name">The balancer's name, a tag on every measurement.</param>
    /// <param name="snapshot">Reads the fold's latest state.</param>
    /// <param name="factory">The host's meter factory, which then owns the meter; null for a meter of the balancer's own.</param>
    public BalancerMetrics(string name, Func<BalancerSnapshot> snapshot, IMeterFactory? factory = null)
    {
        var options = new MeterOptions(MeterName) { Tags = [new("loadbalancer.name", name)] };
        (_meter, _ownsMeter) = factory is null ? (new Meter(options), true) : (factory.Create(options), false);
        _accepted = _meter.CreateCounter<long>("loadbalancer.connections.accepted", "{connection}", "Client connections accepted.");
        _completed = _meter.CreateCounter<long>("loadbalancer.connections.completed", "{connection}", "Relayed connections that ended, by backend and how.");
        _failed = _meter.CreateCounter<long>("loadbalancer.connections.failed", "{connection}", "Connections no backend could be reached for, by the last backend tried.");
        _rejected = _meter.CreateCounter<long>("loadbalancer.connections.rejected", "{connection}", "Connections refused, by reason.");
        _bytes = _meter.CreateCounter<long>("loadbalancer.io", "By", "Bytes relayed, by backend and direction, counted while they flow.");
        _connectTime = _meter.CreateHistogram(
            "loadbalancer.connect.duration", "s", "Time for a backend to accept a connection.", tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = s_connectBuckets });
        _duration = _meter.CreateHistogram(
            "loadbalancer.connection.duration", "s", "Time from accepting a client to closing both sides.", tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = s_durationBuckets });
        _meter.CreateObservableUpDownCounter(
            "loadbalancer.connections.active",
            () => snapshot().Backends.Select(b => new Measurement<int>(b.ActiveConnections, Server(b.Address))),
            "{connection}",
            "Connections relayed (or connecting) now, by backend.");
        _meter.CreateObservableGauge(
            "loadbalancer.backend.available",
            () => snapshot().Backends.Select(b => new Measurement<int>(b.Available ? 1 : 0, Server(b.Address))),
            "{backend}",
            "1 while a backend takes new connections (healthy, not ejected, not draining, not full); else 0.");
    }

    /// <summary>Counts what <paramref name="event"/> says; called for every event as it is published.</summary>
    public void Record(LoadBalancerEvent @event)
    {
        switch (@event)
        {
            case ConnectionAccepted:
                _accepted.Add(1);
                break;
            case BackendConnected connected:
                _connectTime.Record(connected.ConnectTime.TotalSeconds, Server(connected.Backend));
                break;
            case ConnectionCompleted completed:
                _completed.Add(1, Server(completed.Backend, "loadbalancer.outcome", Outcome(completed.Reason)));
                _duration.Record(completed.Duration.TotalSeconds, Server(completed.Backend));
                break;
            case ConnectionFailed failed:
                _failed.Add(1, Server(failed.Backend, "error.type", failed.Error.ToString()));
                break;
            case ConnectionRejected rejected:
                _rejected.Add(1, new KeyValuePair<string, object?>("loadbalancer.reason", Reason(rejected.Reason)));
                break;
        }
    }

    /// <summary>
    /// Counts bytes relayed for a backend: called while they flow (samples of live relays, about once a second) and
    /// with the rest when a connection ends, never twice for the same bytes.
    /// </summary>
    /// <param name="backend">The backend's address, as configured.</param>
    /// <param name="fromClient">Bytes relayed to the backend (transmitted).</param>
    /// <param name="fromBackend">Bytes relayed from the backend (received).</param>
    public void RecordBytes(string backend, long fromClient, long fromBackend)
    {
        if (fromClient != 0)
        {
            _bytes.Add(fromClient, Server(backend, "network.io.direction", "transmit"));
        }

        if (fromBackend != 0)
        {
            _bytes.Add(fromBackend, Server(backend, "network.io.direction", "receive"));
        }
    }

    public void Dispose()
    {
        // A meter from the host's factory is the factory's to dispose, with the host.
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    // The backend as OpenTelemetry names a server: its host and port, parsed once per backend from the address as
    // configured ("db.internal:5432", "[::1]:8080"; addresses were validated, so it parses).
    private TagList Server(string address, string? key = null, object? value = null)
    {
        var (host, port) = _servers.GetOrAdd(address, static address =>
        {
            EndPointParser.TryParse(address, allowPortZero: false, out var endPoint, out _);
            return endPoint switch
            {
                DnsEndPoint dns => (dns.Host, dns.Port),
                IPEndPoint ip => (ip.Address.ToString(), ip.Port),
                _ => (address, 0),
            };
        });
        var tags = new TagList { { "server.address", host }, { "server.port", port } };
        if (key is not null)
        {
            tags.Add(key, value);
        }

        return tags;
    }

    private static string Outcome(CompletionReason reason) => reason switch
    {
        CompletionReason.ClientClosed => "client_closed",
        CompletionReason.BackendClosed => "backend_closed",
        CompletionReason.ClientReset => "client_reset",
        CompletionReason.BackendReset => "backend_reset",
        CompletionReason.IdleTimeout => "idle_timeout",
        _ => "aborted",
    };

    private static string Reason(RejectionReason reason) => reason switch
    {
        RejectionReason.NoBackendAvailable => "no_backend_available",
        RejectionReason.ConnectionLimitReached => "connection_limit",
        RejectionReason.AllBackendsFull => "backends_full",
        RejectionReason.QueueTimeout => "queue_timeout",
        RejectionReason.Denied => "denied",
        RejectionReason.ClientConnectionLimit => "client_connection_limit",
        RejectionReason.ClientRateLimit => "client_rate_limit",
        RejectionReason.InvalidProxyHeader => "invalid_proxy_header",
        RejectionReason.FirstByteTimeout => "first_byte_timeout",
        RejectionReason.InvalidClientHello => "invalid_client_hello",
        RejectionReason.TlsHandshakeFailed => "tls_handshake_failed",
        _ => "balancer_stopping",
    };
}
