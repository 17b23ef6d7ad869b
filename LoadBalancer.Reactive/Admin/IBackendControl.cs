using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Admin;

/// <summary>
/// Where the runtime API's backend changes go. The default applies them to one balancer through its own calls
/// (<see cref="TcpLoadBalancer.DrainBackend"/> and the others), so each is folded and published like any other
/// change; a fleet of balancers can write them to a shared store instead, for every instance to apply.
/// </summary>
/// <remarks>
/// A refused change throws: <see cref="ArgumentException"/> (an unknown backend, a weight out of range) or
/// <see cref="LoadBalancerOptionsException"/> (an invalid backend); the runtime API turns the message into its
/// <c>error:</c> reply. Completing means the change was accepted, not that every balancer has applied it yet.
/// </remarks>
public interface IBackendControl
{
    /// <summary>Drains a backend: no new connections; its open ones finish.</summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    Task DrainAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>Puts a backend in maintenance: no new connections and no health probes.</summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    Task DisableAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>Puts a draining or disabled backend back in service.</summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    Task EnableAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>Changes a backend's weight (0 to 10,000); new connections follow it.</summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <param name="weight">The new weight.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    Task SetWeightAsync(string address, int weight, CancellationToken cancellationToken = default);

    /// <summary>Adds a backend; it takes new connections at once.</summary>
    /// <param name="backend">The backend, validated as configured ones are.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    Task AddAsync(BackendOptions backend, CancellationToken cancellationToken = default);

    /// <summary>Removes a backend: drained first, then it leaves.</summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <param name="closeAfter">When set, connections still open this long after the removal are closed.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    Task RemoveAsync(string address, TimeSpan? closeAfter = null, CancellationToken cancellationToken = default);
}
