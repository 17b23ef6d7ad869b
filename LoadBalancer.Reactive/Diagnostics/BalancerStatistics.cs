using LoadBalancer.Reactive.Balancing;

namespace LoadBalancer.Reactive.Diagnostics;

/// <summary>
/// What a stats page shows, as of one moment: counters since the balancer started and one row per backend.
/// Read it from <see cref="TcpLoadBalancer.Statistics"/>; it is counted from the balancer's events as they
/// are published, so a slow subscriber never makes it miss one.
/// </summary>
/// <param name="Time">When it was read, on the balancer's scheduler.</param>
/// <param name="Started">When the balancer started listening; null before.</param>
/// <param name="Accepted">Client connections accepted.</param>
/// <param name="Rejected">Client connections refused (no backend, limits, queue timeouts).</param>
/// <param name="Failed">Client connections no backend could be reached for.</param>
/// <param name="Queued">Client connections that had to wait in the queue.</param>
/// <param name="Backends">One row per backend, in configuration order.</param>
public sealed record BalancerStatistics(
    DateTimeOffset Time,
    DateTimeOffset? Started,
    long Accepted,
    long Rejected,
    long Failed,
    long Queued,
    IReadOnlyList<BackendStatistics> Backends)
{
    /// <summary>Connections relayed or connecting now, over every backend.</summary>
    public int ActiveConnections => Backends.Sum(row => row.Backend.ActiveConnections);

    /// <summary>Connections ever assigned, over every backend (each retry counts again).</summary>
    public long TotalConnections => Backends.Sum(row => row.Backend.TotalConnections);

    /// <summary>Bytes relayed from clients to backends, over every connection (live ones included, as of their last sample).</summary>
    public long BytesFromClient => Backends.Sum(row => row.BytesFromClient);

    /// <summary>Bytes relayed from backends to clients, over every connection (live ones included, as of their last sample).</summary>
    public long BytesFromBackend => Backends.Sum(row => row.BytesFromBackend);
}

/// <summary>One backend's row on a stats page: its state from the fold, with what its connections carried.</summary>
/// <param name="Backend">The backend's state: health, weight, active and total connections, failures.</param>
/// <param name="BytesFromClient">
/// Bytes relayed to the backend, counted while they flow: live relays are sampled about once a second, and a
/// connection's last bytes are counted when it ends. A rate is the difference between two reads over their
/// <see cref="BalancerStatistics.Time"/>s (over a second or more, or it jumps with the samples).
/// </param>
/// <param name="BytesFromBackend">Bytes relayed from the backend, counted as <paramref name="BytesFromClient"/>.</param>
/// <param name="Completed">Connections to the backend that completed.</param>
/// <param name="LastChange">When its state last changed (health, ejection, membership); null if it never has.</param>
/// <param name="LastChangeReason">What that change was, in a few words ("down: health checks failed").</param>
public sealed record BackendStatistics(
    BackendSnapshot Backend,
    long BytesFromClient,
    long BytesFromBackend,
    long Completed,
    DateTimeOffset? LastChange,
    string? LastChangeReason)
{
    /// <summary>
    /// The backend's state in one word, as HAProxy shows it: <c>MAINT</c> (disabled by an operator, or weight 0),
    /// <c>DOWN</c> (health checks), <c>EJECTED</c> (outlier detection), <c>DRAIN</c> (draining or being removed), <c>FULL</c>
    /// (at its connection limit), <c>SLOW</c> (ramping up after slow start), else <c>UP</c>.
    /// </summary>
    public string Status => Backend switch
    {
        { Disabled: true } => "MAINT",
        { Healthy: false } => "DOWN",
        { Ejected: true } => "EJECTED",
        { Draining: true } or { Removing: true } => "DRAIN",
        { Weight: 0 } => "MAINT",
        { Full: true } => "FULL",
        { SlowStartPercent: < 100 } => "SLOW",
        _ => "UP",
    };
}
