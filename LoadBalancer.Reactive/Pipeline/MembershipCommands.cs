using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Pipeline;

/// <summary>
/// The operator's membership calls, checked before they become fold inputs: a backend is validated as configured
/// ones are and defined (its address parsed, its TLS files loaded once) here, so the fold never meets a bad one.
/// </summary>
/// <param name="backends">Where new backends' definitions go, for the connections that will reach them.</param>
/// <param name="defaultHealthCheck">The health check of backends that do not set their own, as configured now (a reconfiguration changes it).</param>
/// <param name="members">The members now (the fold's latest snapshot).</param>
/// <param name="post">Posts an input into the fold.</param>
internal sealed class MembershipCommands(
    BackendCatalog backends, Func<HealthCheckOptions> defaultHealthCheck, DesiredMembership members, Action<BalancerInput> post)
{
    public void Add(BackendOptions backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ThrowIfInvalid(LoadBalancerOptionsValidator.ValidateBackends([backend], "Backend"));
        if (Find(backend.Address) is { Draining: false })
        {
            throw new LoadBalancerOptionsException([$"Backend '{backend.Address}' is already a member."]);
        }

        Define([(backend, "Backend")]);
        post(new AddBackend(backend));
    }

    public void Remove(string address, TimeSpan? closeAfter)
    {
        ThrowIfUnknown(address);
        if (closeAfter is { } deadline && deadline < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(closeAfter), closeAfter, "closeAfter must not be negative.");
        }

        post(new RemoveBackend(address, closeAfter));
    }

    public void Drain(string address)
    {
        ThrowIfUnknown(address);
        post(new DrainBackend(address));
    }

    public void Disable(string address)
    {
        ThrowIfUnknown(address);
        post(new DisableBackend(address));
    }

    public void Enable(string address)
    {
        ThrowIfUnknown(address);
        post(new EnableBackend(address));
    }

    public void SetWeight(string address, int weight)
    {
        ThrowIfUnknown(address);
        if (weight is < 0 or > LoadBalancerOptionsValidator.MaxWeight)
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, $"Backend '{address}' weight must be 0-{LoadBalancerOptionsValidator.MaxWeight}.");
        }

        post(new ReweightBackend(address, weight));
    }

    public void Update(IReadOnlyList<BackendOptions> set)
    {
        ArgumentNullException.ThrowIfNull(set);
        ThrowIfInvalid(LoadBalancerOptionsValidator.ValidateBackends(set, "Backends"));
        var serving = members.Current.Where(member => !member.Removing).Select(member => member.Address).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var changes = members.Changes(set);

        // Only backends that join or resume are (re)defined: a member's way of being reached (endpoint, TLS,
        // PROXY header) is fixed while it serves, and its certificates are not loaded again for every set.
        var joining = changes.OfType<AddBackend>().Select(add => add.Backend).Where(backend => !serving.Contains(backend.Address)).ToHashSet();
        Define([.. set.Select((backend, i) => (backend, $"Backends[{i}]")).Where(named => joining.Contains(named.backend))]);
        foreach (var change in changes)
        {
            post(change);
        }
    }

    /// <summary>
    /// Applies each set as <see cref="Update"/> does; an invalid set is refused, a failing source reported. An empty set
    /// is refused too: a source that lost its data (a wiped store, a wrong prefix) must not take every backend away.
    /// While it is followed, the members are the source's: a reconfiguration does not apply its own backends.
    /// </summary>
    public IDisposable Follow(IObservable<IReadOnlyList<BackendOptions>> sets)
    {
        ArgumentNullException.ThrowIfNull(sets);
        var following = members.FollowedBy();
        var subscription = sets.Subscribe(
            set =>
            {
                try
                {
                    if (set.Count == 0)
                    {
                        throw new LoadBalancerOptionsException(["The discovery source gave an empty set of backends; the members stay as they are."]);
                    }

                    Update(set);
                }
                catch (LoadBalancerOptionsException exception)
                {
                    post(new Reported(new MembershipRejected(exception.Errors)));
                }
            },
            error =>
            {
                following.Dispose();
                post(new Reported(new DiscoveryFailed(error.Message)));
            },
            following.Dispose);
        return new System.Reactive.Disposables.CompositeDisposable(subscription, following);
    }

    // Validated backends' definitions, certificates loaded, each named in errors by its field; none is stored unless
    // all of them load.
    private void Define(IReadOnlyList<(BackendOptions Backend, string Field)> set)
    {
        var errors = new List<string>();
        var definitions = set.Select(named => BalancerModel.Define(named.Backend, defaultHealthCheck(), named.Field, errors)).ToList();
        ThrowIfInvalid(errors);
        definitions.ForEach(backends.Put);
    }

    private static void ThrowIfInvalid(IReadOnlyList<string> errors)
    {
        if (errors.Count > 0)
        {
            throw new LoadBalancerOptionsException(errors);
        }
    }

    private BackendSnapshot? Find(string address) =>
        members.Current.FirstOrDefault(backend => string.Equals(backend.Address, address, StringComparison.OrdinalIgnoreCase));

    private void ThrowIfUnknown(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (Find(address) is null)
        {
            throw new ArgumentException($"No backend '{address}' is a member.", nameof(address));
        }
    }
}
