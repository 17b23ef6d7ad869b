namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// Which clients may connect, and how much each may use: access rules by network and per-client limits
/// (HAProxy's <c>tcp-request connection reject</c> with stick-table counters). Everything here is decided
/// by the fold before a backend is picked; a refused client is closed at once with a
/// <see cref="Events.ConnectionRejected"/> naming the reason.
/// </summary>
public sealed record ClientOptions
{
    /// <summary>
    /// Networks clients may connect from, in CIDR form (<c>10.0.0.0/8</c>, <c>2001:db8::/32</c>; a bare
    /// address is a network of one). Empty (the default) allows every client not denied.
    /// </summary>
    public IReadOnlyList<string> Allow { get; init; } = [];

    /// <summary>Networks clients may not connect from, in CIDR form; a client in one is refused even if allowed.</summary>
    public IReadOnlyList<string> Deny { get; init; } = [];

    /// <summary>
    /// Rules for single listeners, on top of <see cref="Allow"/> and <see cref="Deny"/>: a client on a listener
    /// named here must pass both the balancer's rules and that listener's (an admin port open to one
    /// network beside a public one, say). Empty (the default): every listener has the balancer's rules only.
    /// </summary>
    public IReadOnlyList<ListenerAccess> Listeners { get; init; } = [];

    /// <summary>The most connections one client address may hold at once (relayed, connecting or queued); 0 (the default) for no limit.</summary>
    public int MaxConnections { get; init; }

    /// <summary>
    /// The most new connections one client address may open per <see cref="ConnectionRateInterval"/>; 0 (the
    /// default) for no limit. Every attempt counts, refused ones too, so a client that keeps hammering stays
    /// refused until it slows down. Measured over a sliding window, as HAProxy's <c>conn_rate</c>.
    /// </summary>
    public int MaxConnectionRate { get; init; }

    /// <summary>The window <see cref="MaxConnectionRate"/> counts over. Default: 1 second.</summary>
    public TimeSpan ConnectionRateInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>Access rules for one listener; see <see cref="ClientOptions.Listeners"/>.</summary>
public sealed record ListenerAccess
{
    /// <summary>The listener, written exactly as in <see cref="LoadBalancerOptions.Listen"/> (<c>127.0.0.1:9000</c>).</summary>
    public string Listen { get; init; } = string.Empty;

    /// <summary>Networks that may connect to this listener, in CIDR form; empty allows every client not denied.</summary>
    public IReadOnlyList<string> Allow { get; init; } = [];

    /// <summary>Networks that may not connect to this listener, in CIDR form.</summary>
    public IReadOnlyList<string> Deny { get; init; } = [];
}
