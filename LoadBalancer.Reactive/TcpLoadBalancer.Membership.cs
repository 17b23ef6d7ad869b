using System.Reactive.Concurrency;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive;

// Changing the backends of a running balancer. Every change is an event in the fold's one serialized
// stream, so it lands between two connections' decisions, never in the middle of one.
public sealed partial class TcpLoadBalancer
{
    private readonly Dictionary<string, BackendOptions> _memberOptions = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Adds a backend; it takes new connections at once. Adding a backend that is draining resumes it.</summary>
    /// <param name="backend">The backend, validated as configured backends are.</param>
    /// <exception cref="ArgumentNullException"><paramref name="backend"/> is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">The backend is invalid, or already a member; the message says which.</exception>
    public void AddBackend(BackendOptions backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var existing = Snapshot.Backends.FirstOrDefault(b => string.Equals(b.Address, backend.Address, StringComparison.OrdinalIgnoreCase));
        ThrowIfInvalid(LoadBalancerOptionsValidator.ValidateBackends([backend], "Backend"));
        if (existing is { Draining: false })
        {
            throw new LoadBalancerOptionsException([$"Backend '{backend.Address}' is already a member."]);
        }

        lock (_memberOptions)
        {
            _memberOptions[backend.Address] = backend;
        }

        _feed.OnNext(new AddBackend(backend));
    }

    /// <summary>
    /// Removes a backend: it takes no new connections, and leaves once its open connections have ended
    /// (a <see cref="Events.BackendMembershipChanged"/> says when).
    /// </summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <param name="closeAfter">When set, connections still open this long after the removal are closed.</param>
    /// <exception cref="ArgumentException">No backend has that address.</exception>
    public void RemoveBackend(string address, TimeSpan? closeAfter = null)
    {
        ThrowIfUnknown(address);
        if (closeAfter is { } deadline && deadline < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(closeAfter), closeAfter, "closeAfter must not be negative.");
        }

        _feed.OnNext(new RemoveBackend(address, closeAfter));
    }

    /// <summary>Drains a backend: it takes no new connections and its open ones finish. Add it again to resume it.</summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <exception cref="ArgumentException">No backend has that address.</exception>
    public void DrainBackend(string address)
    {
        ThrowIfUnknown(address);
        _feed.OnNext(new DrainBackend(address));
    }

    /// <summary>Changes a backend's weight; new connections follow it at once.</summary>
    /// <param name="address">The backend's address, as configured.</param>
    /// <param name="weight">The new weight, 0 to 10,000.</param>
    /// <exception cref="ArgumentException">No backend has that address.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The weight is outside 0-10,000.</exception>
    public void SetWeight(string address, int weight)
    {
        ThrowIfUnknown(address);
        if (weight is < 0 or > LoadBalancerOptionsValidator.MaxWeight)
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, $"Backend '{address}' weight must be 0-{LoadBalancerOptionsValidator.MaxWeight}.");
        }

        _feed.OnNext(new ReweightBackend(address, weight));
    }

    /// <summary>
    /// Makes the members exactly <paramref name="backends"/>: new ones join, missing ones are removed
    /// (drained first), changed weights apply. The whole set is validated first; an invalid one changes nothing.
    /// </summary>
    /// <param name="backends">Every backend that should be a member.</param>
    /// <exception cref="LoadBalancerOptionsException">The set is invalid; every problem is listed.</exception>
    public void UpdateBackends(IReadOnlyList<BackendOptions> backends)
    {
        ArgumentNullException.ThrowIfNull(backends);
        ThrowIfInvalid(LoadBalancerOptionsValidator.ValidateBackends(backends, "Backends"));
        lock (_memberOptions)
        {
            foreach (var backend in backends)
            {
                _memberOptions[backend.Address] = backend;
            }
        }

        foreach (var change in MembershipDiff.Compute(Snapshot.Backends, backends))
        {
            _feed.OnNext(change);
        }
    }

    /// <summary>
    /// Follows a stream of backend sets from your own service discovery: each set is applied as by
    /// <see cref="UpdateBackends"/>. An invalid set is skipped (the previous one stays) and reported as
    /// an <see cref="Events.MembershipRejected"/> event; the stream's end or error stops following.
    /// </summary>
    /// <param name="backendSets">Every set of backends, as it changes.</param>
    /// <returns>Dispose to stop following.</returns>
    public IDisposable FollowBackends(IObservable<IReadOnlyList<BackendOptions>> backendSets)
    {
        ArgumentNullException.ThrowIfNull(backendSets);
        return backendSets.Subscribe(set =>
        {
            try
            {
                UpdateBackends(set);
            }
            catch (LoadBalancerOptionsException exception)
            {
                Publish(new Events.MembershipRejected(exception.Errors));
            }
        });
    }

    private void OnMembershipChange(MembershipChange change)
    {
        var backend = change.Backend;
        switch (change.Kind)
        {
            case MembershipChangeKind.Joined:
                BackendOptions? options;
                lock (_memberOptions)
                {
                    _memberOptions.TryGetValue(backend.Address, out options);
                }

                _healthChecker?.Add(backend, options?.HealthCheck ?? _options.HealthCheck);
                break;
            case MembershipChangeKind.DrainStarted when change.CloseAfter is { } deadline:
                var timer = new System.Reactive.Disposables.SingleAssignmentDisposable();
                _timers.Add(timer);
                timer.Disposable = _scheduler.Schedule(deadline, () =>
                {
                    _timers.Remove(timer);
                    AbortConnectionsTo(backend.Address);
                });
                break;
            case MembershipChangeKind.Left:
                _healthChecker?.Remove(backend.Address);
                break;
        }

        Publish(new Events.BackendMembershipChanged(backend.Address, change.Kind, backend.Weight, backend.ActiveConnections));
    }

    private void AbortConnectionsTo(string address)
    {
        foreach (var connection in _connections.Values)
        {
            if (string.Equals(connection.Backend?.Address, address, StringComparison.OrdinalIgnoreCase))
            {
                connection.Abort();
            }
        }
    }

    private void ThrowIfUnknown(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!Snapshot.Backends.Any(b => string.Equals(b.Address, address, StringComparison.OrdinalIgnoreCase)))
        {
            throw new ArgumentException($"No backend '{address}' is a member.", nameof(address));
        }
    }

    private static void ThrowIfInvalid(IReadOnlyList<string> errors)
    {
        if (errors.Count > 0)
        {
            throw new LoadBalancerOptionsException(errors);
        }
    }
}
