using System.Diagnostics.Metrics;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Diagnostics;

/// <summary>
/// The balancer's instruments, on a <see cref="Meter"/> named <see cref="MeterName"/>, so OpenTelemetry and
/// <c>dotnet-counters</c> read them with no extra code. Counters and histograms are derived from the
/// balancer's events as they are published (before any subscriber could drop one); active connections
/// and health are read from the fold's state when a listener asks.
/// </summary>
internal sealed class BalancerMetrics : IDisposable
{
    /// <summary>The name of the meter every balancer publishes on.</summary>
    public const string MeterName = "LoadBalancer.Reactive";

    private readonly Meter _meter = new(MeterName);

    /// <summary>This balancer's meter (each balancer has its own, all named <see cref="MeterName"/>).</summary>
    public Meter Meter => _meter;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _completed;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _bytes;
    private readonly Histogram<double> _connectTime;
    private readonly Histogram<double> _duration;

    public BalancerMetrics(Func<BalancerSnapshot> snapshot)
    {
        _accepted = _meter.CreateCounter<long>("loadbalancer.connections.accepted", "{connection}", "Client connections accepted.");
        _completed = _meter.CreateCounter<long>("loadbalancer.connections.completed", "{connection}", "Relayed connections that ended, by backend and how.");
        _failed = _meter.CreateCounter<long>("loadbalancer.connections.failed", "{connection}", "Connections no backend could be reached for, by the last backend tried.");
        _rejected = _meter.CreateCounter<long>("loadbalancer.connections.rejected", "{connection}", "Connections refused, by reason.");
        _bytes = _meter.CreateCounter<long>("loadbalancer.io", "By", "Bytes relayed, by backend and direction.");
        _connectTime = _meter.CreateHistogram<double>("loadbalancer.connect.duration", "s", "Time for a backend to accept a connection.");
        _duration = _meter.CreateHistogram<double>("loadbalancer.connection.duration", "s", "Time from accepting a client to closing both sides.");
        _meter.CreateObservableUpDownCounter(
            "loadbalancer.connections.active",
            () => snapshot().Backends.Select(b => new Measurement<int>(b.ActiveConnections, Backend(b.Address))),
            "{connection}",
            "Connections relayed (or connecting) now, by backend.");
        _meter.CreateObservableGauge(
            "loadbalancer.backend.available",
            () => snapshot().Backends.Select(b => new Measurement<int>(b.Available ? 1 : 0, Backend(b.Address))),
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
                _connectTime.Record(connected.ConnectTime.TotalSeconds, Backend(connected.Backend));
                break;
            case ConnectionCompleted completed:
                _completed.Add(1, Backend(completed.Backend), new("loadbalancer.outcome", Outcome(completed.Reason)));
                _bytes.Add(completed.BytesFromClient, Backend(completed.Backend), new("network.io.direction", "from_client"));
                _bytes.Add(completed.BytesFromBackend, Backend(completed.Backend), new("network.io.direction", "from_backend"));
                _duration.Record(completed.Duration.TotalSeconds, Backend(completed.Backend));
                break;
            case ConnectionFailed failed:
                _failed.Add(1, Backend(failed.Backend), new("error.type", failed.Error.ToString()));
                break;
            case ConnectionRejected rejected:
                _rejected.Add(1, new KeyValuePair<string, object?>("loadbalancer.reason", Reason(rejected.Reason)));
                break;
        }
    }

    public void Dispose() => _meter.Dispose();

    private static KeyValuePair<string, object?> Backend(string address) => new("loadbalancer.backend", address);

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
