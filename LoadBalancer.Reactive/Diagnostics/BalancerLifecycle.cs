namespace LoadBalancer.Reactive.Diagnostics;

/// <summary>Where a balancer is in its life, as its start and stop left it.</summary>
internal enum BalancerLifecycle
{
    /// <summary>Created, not listening yet.</summary>
    NotStarted,

    /// <summary>Every listen endpoint is bound and accepting.</summary>
    Listening,

    /// <summary>Stopped accepting; open connections are finishing.</summary>
    Stopping,

    /// <summary>Stopped, or its start failed: nothing is open.</summary>
    Stopped,
}
