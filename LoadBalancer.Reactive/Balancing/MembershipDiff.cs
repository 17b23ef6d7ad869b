using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>The changes that turn the current members into a desired set.</summary>
internal static class MembershipDiff
{
    public static IEnumerable<BalancerInput> Compute(IReadOnlyList<BackendSnapshot> current, IReadOnlyList<BackendOptions> desired)
    {
        var members = current.ToDictionary(b => b.Address, StringComparer.OrdinalIgnoreCase);
        var wanted = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var backend in desired)
        {
            wanted.Add(backend.Address);
            if (!members.TryGetValue(backend.Address, out var member) || member.Draining)
            {
                yield return new AddBackend(backend);
            }
            else if (member.Weight != backend.Weight)
            {
                yield return new ReweightBackend(backend.Address, backend.Weight);
            }
        }

        foreach (var member in current.Where(b => !b.Removing && !wanted.Contains(b.Address)))
        {
            yield return new RemoveBackend(member.Address);
        }
    }
}
