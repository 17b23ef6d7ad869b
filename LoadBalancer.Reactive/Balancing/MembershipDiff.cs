using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The changes that turn the current members into a desired set: joins, weights, states and removals. Membership is
/// level-triggered (every backend in the set is a member, every member outside it leaves), but a backend's weight
/// and state are edge-triggered: they are applied when the set says something new about them (the backend is new to
/// the sets, or its weight or state differs from the previous set's), so an operator's drain, maintenance or weight
/// is not undone by a discovery source that merely says the same thing again.
/// </summary>
internal static class MembershipDiff
{
    /// <param name="current">The members as the fold last published them.</param>
    /// <param name="desired">The new set.</param>
    /// <param name="previous">The previous set, by address: what the members were last told.</param>
    public static IEnumerable<BalancerInput> Compute(
        IReadOnlyList<BackendSnapshot> current, IReadOnlyList<BackendOptions> desired, IReadOnlyDictionary<string, BackendOptions> previous)
    {
        var members = current.ToDictionary(b => b.Address, StringComparer.OrdinalIgnoreCase);
        var wanted = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var backend in desired)
        {
            wanted.Add(backend.Address);
            var before = previous.GetValueOrDefault(backend.Address);
            if (!members.TryGetValue(backend.Address, out var member) || member.Removing || before is null)
            {
                // A backend new to the sets joins, even when the members still show it: a removal posted for an
                // earlier set may not have been folded yet, and the fold resumes a backend that is leaving.
                yield return new AddBackend(backend);
                if (member is null || member.Removing)
                {
                    continue;
                }
            }

            if (before is null ? member.Weight != backend.Weight : before.Weight != backend.Weight)
            {
                yield return new ReweightBackend(backend.Address, backend.Weight);
            }

            if (before is null ? StateDiffers(member, backend.State) : before.State != backend.State)
            {
                yield return StateChange(backend);
            }
        }

        foreach (var member in current.Where(b => !b.Removing && !wanted.Contains(b.Address)))
        {
            yield return new RemoveBackend(member.Address);
        }
    }

    private static bool StateDiffers(BackendSnapshot member, BackendState wanted) => wanted switch
    {
        BackendState.Draining => !member.Draining,
        BackendState.Disabled => !member.Disabled,
        _ => member.Draining || member.Disabled,
    };

    // The fold ignores a change that is already so (a drain of a draining backend, an enable of one in service).
    private static BalancerInput StateChange(BackendOptions wanted) => wanted.State switch
    {
        BackendState.Draining => new DrainBackend(wanted.Address),
        BackendState.Disabled => new DisableBackend(wanted.Address),
        _ => new EnableBackend(wanted.Address),
    };
}

/// <summary>
/// The members as a source of sets sees them: the fold's latest members, and the last set given, so that each new set
/// is diffed against both (see <see cref="MembershipDiff"/>). Shared by every path that applies sets: operator calls,
/// discovery, reconfiguration.
/// </summary>
/// <param name="current">The fold's latest members.</param>
/// <param name="initial">The configured backends: the first set.</param>
internal sealed class DesiredMembership(Func<IReadOnlyList<BackendSnapshot>> current, IReadOnlyList<BackendOptions> initial)
{
    private readonly Lock _gate = new();
    private Dictionary<string, BackendOptions> _last = ByAddress(initial);
    private int _sources;

    /// <summary>The fold's latest members.</summary>
    public IReadOnlyList<BackendSnapshot> Current => current();

    /// <summary>Whether a discovery source follows the members (they are then its, not the configuration's).</summary>
    public bool Followed => Volatile.Read(ref _sources) > 0;

    /// <summary>Counts a discovery source as following the members until the returned handle is disposed.</summary>
    public IDisposable FollowedBy()
    {
        Interlocked.Increment(ref _sources);
        var ended = 0;
        return System.Reactive.Disposables.Disposable.Create(() =>
        {
            if (Interlocked.Exchange(ref ended, 1) == 0)
            {
                Interlocked.Decrement(ref _sources);
            }
        });
    }

    /// <summary>The inputs that turn the members into <paramref name="desired"/>, which becomes the last set given.</summary>
    public IReadOnlyList<BalancerInput> Changes(IReadOnlyList<BackendOptions> desired)
    {
        lock (_gate)
        {
            var changes = MembershipDiff.Compute(current(), desired, _last).ToList();
            _last = ByAddress(desired);
            return changes;
        }
    }

    private static Dictionary<string, BackendOptions> ByAddress(IReadOnlyList<BackendOptions> set)
    {
        var byAddress = new Dictionary<string, BackendOptions>(StringComparer.OrdinalIgnoreCase);
        foreach (var backend in set)
        {
            byAddress[backend.Address] = backend;
        }

        return byAddress;
    }
}
