using LoadBalancer.Reactive.Admin;
using LoadBalancer.Reactive.Fleet;

namespace LoadBalancer.Reactive.Hosting;

/// <summary>
/// A hosted balancer's membership of a fleet, registered by
/// <see cref="LoadBalancerServiceCollectionExtensions.AddTcpLoadBalancerFleet"/>: joined once the host has started the
/// balancer, left when the host stops. Inject it to reach the fleet, or its runtime API in fleet mode.
/// </summary>
public sealed class HostedFleet
{
    private EtcdFleet? _fleet;

    internal HostedFleet(EtcdFleetOptions options) => Options = options;

    /// <summary>How this instance joins (or joined) the fleet.</summary>
    public EtcdFleetOptions Options { get; }

    /// <summary>The fleet, once joined.</summary>
    /// <exception cref="InvalidOperationException">The host has not started yet (or has stopped).</exception>
    public EtcdFleet Fleet => Volatile.Read(ref _fleet) ?? throw new InvalidOperationException("The fleet is joined when the host starts the balancer.");

    /// <summary>The runtime API in fleet mode (see <see cref="EtcdFleet.CreateRuntimeApi"/>), once joined.</summary>
    /// <exception cref="InvalidOperationException">The host has not started yet.</exception>
    public RuntimeApi CreateRuntimeApi() => Fleet.CreateRuntimeApi();

    internal void Joined(EtcdFleet fleet) => Volatile.Write(ref _fleet, fleet);

    /// <summary>The fleet joined, if any, now left to the caller to dispose.</summary>
    internal EtcdFleet? Leave() => Interlocked.Exchange(ref _fleet, null);
}
