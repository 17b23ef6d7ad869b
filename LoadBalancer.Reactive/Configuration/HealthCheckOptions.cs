namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// Active health checks: every <see cref="Interval"/>, open a TCP connection to the backend as a client's
/// connection would be opened (with a PROXY header first when the backend is sent one, LOCAL in v2 and UNKNOWN
/// in v1, then the TLS handshake when it is reached over TLS, as HAProxy's <c>check-send-proxy</c> and
/// <c>check-ssl</c> do), and optionally send <see cref="Send"/> and expect a reply starting with
/// <see cref="Expect"/>, over TLS when it is on. Defaults are HAProxy's.
/// </summary>
public sealed record HealthCheckOptions
{
    /// <summary>Whether to probe at all. Default: true.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Time between the end of one probe and the start of the next. Default: 2 seconds.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long one probe may take: connecting, the TLS handshake and (if set) answering. Default: 1 second.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Probes that must succeed in a row to turn an unhealthy backend healthy. Default: 2.</summary>
    public int Rise { get; init; } = 2;

    /// <summary>Probes that must fail in a row to turn a healthy backend unhealthy. Default: 3.</summary>
    public int Fall { get; init; } = 3;

    /// <summary>Text (UTF-8) to send once connected, such as <c>"PING\r\n"</c>. Default: null, a plain connect probe.</summary>
    public string? Send { get; init; }

    /// <summary>What the reply must start with (UTF-8), such as <c>"+PONG"</c>. Default: null, any reply or none.</summary>
    public string? Expect { get; init; }
}

/// <summary>
/// Passive outlier detection: a backend whose connections fail several times in a row is taken out for
/// a while, longer each time. Defaults are Envoy's, but for the ejection cap.
/// </summary>
public sealed record OutlierDetectionOptions
{
    /// <summary>Whether to eject at all. Default: true.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>
    /// Failures in a row that eject a backend: connects refused or timed out, and connections the
    /// backend reset before sending a byte (a listener that accepts but cannot serve). A connection that
    /// ends cleanly breaks the run. Default: 5.
    /// </summary>
    public int ConsecutiveFailures { get; init; } = 5;

    /// <summary>The first ejection's length; the n-th lasts n times as long. Default: 30 seconds.</summary>
    public TimeSpan BaseEjectionTime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest an ejection lasts, however many came before. Default: 5 minutes.</summary>
    public TimeSpan MaxEjectionTime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The largest share of weighted backends ejected at once, in percent. Default: 50.</summary>
    public int MaxEjectionPercent { get; init; } = 50;

    /// <summary>Whether the last available backend may be ejected too (leaving none). Default: false.</summary>
    public bool EjectLastAvailable { get; init; }
}
