using System.Collections.Immutable;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// Slow start, as HAProxy's <c>slowstart</c>: a backend that joins or comes back (health restored,
/// ejection over) starts at a tenth of its capacity and takes a tenth more every tenth of the window,
/// so a cold cache or a fresh JIT is not flooded the moment it is up.
/// </summary>
internal static class SlowStart
{
    public const int Steps = 10;
    private const int Percent = 100 / Steps;

    /// <summary>Starts the ramp of every backend that the changes in <paramref name="step"/> brought (back) into service.</summary>
    public static Step Begin(Step step, FoldPolicy policy)
    {
        if (policy.SlowStart <= TimeSpan.Zero || step.Changes.IsEmpty)
        {
            return step;
        }

        var state = step.State;
        var started = ImmutableArray.CreateBuilder<BackendChange>();
        foreach (var change in step.Changes)
        {
            var cameBack = change switch
            {
                MembershipChange { Kind: MembershipChangeKind.Joined } => true,
                HealthChange { Backend.Healthy: true } => true,
                EjectionEnded => true,
                _ => false,
            };
            var index = state.IndexOf(change.Backend.Address);
            if (cameBack && index >= 0)
            {
                var ramping = state.Backends[index] with { SlowStartPercent = Percent };
                state = state.WithBackend(index, ramping);
                started.Add(new SlowStartStep(index, ramping, Interval(policy)));
            }
        }

        return started.Count == 0 ? step : step with { State = state, Changes = step.Changes.AddRange(started) };
    }

    /// <summary>One more step of a backend's ramp; the last one reaches 100%.</summary>
    public static Step Tick(BalancerState state, SlowStartTick tick, FoldPolicy policy)
    {
        var index = state.IndexOf(tick.Backend);
        if (index < 0 || state.Backends[index].SlowStartPercent >= 100)
        {
            return new Step(state, null);
        }

        var backend = state.Backends[index];
        var ramped = backend with { SlowStartPercent = Math.Min(100, backend.SlowStartPercent + Percent) };
        var next = ramped.SlowStartPercent < 100 ? Interval(policy) : (TimeSpan?)null;
        return new Step(state.WithBackend(index, ramped), null, [new SlowStartStep(index, ramped, next)]);
    }

    private static TimeSpan Interval(FoldPolicy policy) => policy.SlowStart / Steps;
}
