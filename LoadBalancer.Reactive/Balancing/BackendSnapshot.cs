namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// One backend as the fold sees it at one moment: what it balances by (weight, limit, pool), its health and
/// its counts. How to reach the backend (its endpoint, TLS, PROXY header) is the transport's business, kept in
/// the balancer's backend definitions under the same address.
/// </summary>
/// <param name="Address">The backend's address as configured; it names the backend in events.</param>
/// <param name="Weight">The backend's relative weight; 0 takes no new connections.</param>
/// <param name="ActiveConnections">Connections assigned to the backend and not yet completed.</param>
/// <param name="TotalConnections">Connections ever assigned to the backend (each retry counts again).</param>
public sealed record BackendSnapshot(string Address, int Weight, int ActiveConnections, long TotalConnections)
{
    /// <summary>What the active health checks say: false after <c>Fall</c> failed probes in a row, true again after <c>Rise</c> good ones.</summary>
    public bool Healthy { get; init; } = true;

    /// <summary>Whether passive outlier detection has taken the backend out for a while.</summary>
    public bool Ejected { get; init; }

    /// <summary>How many times the backend has been ejected; each ejection lasts longer than the last.</summary>
    public int Ejections { get; init; }

    /// <summary>
    /// Connections to the backend that failed in a row: refused, timed out, or reset before the backend sent
    /// a byte. A connection that ends cleanly starts the count again.
    /// </summary>
    public int ConsecutiveFailures { get; init; }

    /// <summary>Connections to the backend that ever failed that way.</summary>
    public long FailedConnections { get; init; }

    /// <summary>Whether the backend is being drained: it takes no new connections while its open ones finish.</summary>
    public bool Draining { get; init; }

    /// <summary>Whether an operator put the backend in maintenance: it takes no new connections and is not probed.</summary>
    public bool Disabled { get; init; }

    /// <summary>Whether the backend leaves the balancer once drained (it was removed while connections were open).</summary>
    public bool Removing { get; init; }

    /// <summary>
    /// How far the backend has ramped up after joining or coming back, in percent (100 when slow start is
    /// off or done). Weighted strategies use its weight times this; least connections counts it as that
    /// share of a backend's capacity.
    /// </summary>
    public int SlowStartPercent { get; init; } = 100;

    /// <summary>The weight strategies use: <see cref="Weight"/> scaled by <see cref="SlowStartPercent"/>, in hundredths.</summary>
    public long EffectiveWeight => (long)Weight * SlowStartPercent;

    /// <summary>The most connections the backend takes at once; 0 for no limit.</summary>
    public int MaxConnections { get; init; }

    /// <summary>The pool the backend belongs to, for routing by server name; null for the default pool.</summary>
    public string? Pool { get; init; }

    /// <summary>Whether the backend is at its <see cref="MaxConnections"/>.</summary>
    public bool Full => MaxConnections > 0 && ActiveConnections >= MaxConnections;

    /// <summary>Whether the backend may be given new connections: weighted, healthy, not ejected, not draining or disabled, not full.</summary>
    public bool Available => InService && !Full;

    /// <summary>Whether the backend serves at all, full or not: a connection may wait for it.</summary>
    internal bool InService => Weight > 0 && Healthy && !Ejected && !Draining && !Disabled && !Excluded;

    /// <summary>Probes in a row that disagree with <see cref="Healthy"/>, counting towards rise or fall.</summary>
    internal int ProbeStreak { get; init; }

    /// <summary>Probes that must succeed in a row to turn an unhealthy backend healthy.</summary>
    internal int Rise { get; init; } = 2;

    /// <summary>Probes that must fail in a row to turn a healthy backend unhealthy.</summary>
    internal int Fall { get; init; } = 3;

    /// <summary>How many times the backend was removed: a removal's close deadline applies to that removal only.</summary>
    internal int Removal { get; init; }

    /// <summary>Already tried for the connection being retried, so not available to it (never stored in state).</summary>
    internal bool Excluded { get; init; }
}

/// <summary>The whole balancer at one moment: every backend with its counts.</summary>
/// <param name="Backends">The backends, in configuration order.</param>
public sealed record BalancerSnapshot(IReadOnlyList<BackendSnapshot> Backends)
{
    /// <summary>Connections relayed right now, over all backends.</summary>
    public int ActiveConnections => Backends.Sum(backend => backend.ActiveConnections);

    /// <summary>Connections ever assigned, over all backends.</summary>
    public long TotalConnections => Backends.Sum(backend => backend.TotalConnections);
}
