using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>The changes that turn the current members into a desired set: joins, weights, states and removals.</summary>
internal static class MembershipDiff
{
    public static IEnumerable<BalancerInput> Compute(IReadOnlyList<BackendSnapshot> current, IReadOnlyList<BackendOptions> desired)
    {
        var members = current.ToDictionary(b => b.Address, StringComparer.OrdinalIgnoreCase);
        var wanted = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var backend in desired)
        {
            wanted.Add(backend.Address);
            if (!members.TryGetValue(backend.Address, out var member) || member.Removing)
            {
                yield return new AddBackend(backend);
                continue;
            }

            if (member.Weight != backend.Weight)
            {
                yield return new ReweightBackend(backend.Address, backend.Weight);
            }

            var change = StateChange(member, backend);
            if (change is not null)
            {
                yield return change;
            }
        }

        foreach (var member in current.Where(b => !b.Removing && !wanted.Contains(b.Address)))
        {
            yield return new RemoveBackend(member.Address);
        }
    }

    private static BalancerInput? StateChange(BackendSnapshot member, BackendOptions wanted) => wanted.State switch
    {
        BackendState.Active when member.Draining || member.Disabled => new EnableBackend(member.Address),
        BackendState.Draining when !member.Draining => new DrainBackend(member.Address),
        BackendState.Disabled when !member.Disabled => new DisableBackend(member.Address),
        _ => null,
    };
}
