using System.Collections.Immutable;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// A live reconfiguration, as the fold folds it (<see cref="Reconfigured"/>): each member the new options name takes
/// its connection limit, its pool, and the rise and fall of its health check from them; a member whose health checks
/// are turned off is healthy again (nothing will probe it back up). Its counts, health streaks and ejection carry on.
/// Weights, joins, removals and states are not changed here: the membership inputs that follow do that, with their events.
/// </summary>
internal static class MemberSettings
{
    public static Step Apply(BalancerState state, LoadBalancerOptions options)
    {
        var backends = state.Backends;
        var changes = ImmutableArray.CreateBuilder<BackendChange>();
        foreach (var configured in options.Backends)
        {
            var index = state.IndexOf(configured.Address);
            if (index < 0)
            {
                continue;
            }

            var healthCheck = configured.HealthCheck ?? options.HealthCheck;
            var member = backends[index];
            var updated = member with
            {
                MaxConnections = configured.MaxConnections,
                Pool = string.IsNullOrEmpty(configured.Pool) ? null : configured.Pool,
                Rise = healthCheck.Rise,
                Fall = healthCheck.Fall,
                Healthy = member.Healthy || !healthCheck.Enabled,
                ProbeStreak = healthCheck.Enabled ? member.ProbeStreak : 0,
            };
            if (updated.Healthy != member.Healthy)
            {
                changes.Add(new HealthChange(index, updated));
            }

            backends = backends.SetItem(index, updated);
        }

        // Weights are untouched, so the members (and their version) are the same ones.
        return new Step(state with { Backends = backends }, null, changes.ToImmutable());
    }
}
