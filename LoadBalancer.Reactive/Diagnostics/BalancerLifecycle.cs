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

/// <summary>Reads a <see cref="BalancerLifecycle"/> from what a balancer's start and stop leave behind.</summary>
internal static class BalancerLifecycles
{
    /// <param name="stopped">The stop has finished (or the start failed).</param>
    /// <param name="stopping">A stop has begun.</param>
    /// <param name="listening">The listen endpoints are bound.</param>
    public static BalancerLifecycle Of(bool stopped, bool stopping, bool listening) =>
        stopped ? BalancerLifecycle.Stopped : stopping ? BalancerLifecycle.Stopping : listening ? BalancerLifecycle.Listening : BalancerLifecycle.NotStarted;
}
