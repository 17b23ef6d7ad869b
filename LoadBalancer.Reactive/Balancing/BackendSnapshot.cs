using System.Net;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>One backend as the balancer sees it at one moment: its configuration and its counts.</summary>
/// <param name="Address">The backend's address as configured; it names the backend in events.</param>
/// <param name="EndPoint">Where connections to the backend go.</param>
/// <param name="Weight">The backend's relative weight; 0 takes no new connections.</param>
/// <param name="ActiveConnections">Connections assigned to the backend and not yet completed.</param>
/// <param name="TotalConnections">Connections ever assigned to the backend.</param>
public sealed record BackendSnapshot(string Address, EndPoint EndPoint, int Weight, int ActiveConnections, long TotalConnections)
{
    /// <summary>Whether the backend may be given new connections.</summary>
    public bool Available => Weight > 0;
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
