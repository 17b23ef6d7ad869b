using System.Collections.Immutable;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The fold's membership rules: backends join, change weight, drain and leave while connections flow,
/// and a backend never leaves while a connection still counts against it.
/// </summary>
internal static class Membership
{
    public static Step Add(BalancerState state, AddBackend add, FoldPolicy policy)
    {
        if (add.Backend?.Address is null)
        {
            return new Step(state, null);
        }

        var index = state.IndexOf(add.Backend.Address);
        if (index >= 0)
        {
            // Adding a backend that is draining (or leaving) takes it back, with the weight given now.
            var existing = state.Backends[index];
            if (!existing.Draining)
            {
                return new Step(state, null);
            }

            var resumed = existing with
            {
                Draining = add.Backend.State == Configuration.BackendState.Draining,
                Disabled = add.Backend.State == Configuration.BackendState.Disabled,
                Removing = false,
                Weight = add.Backend.Weight,
            };
            return new Step(state.WithBackend(index, resumed), null, [new MembershipChange(index, resumed, MembershipChangeKind.Joined)]);
        }

        var backend = BalancerState.FromOptions(add.Backend, policy.HealthCheck ?? new Configuration.HealthCheckOptions());
        var next = state.WithMembers(state.Backends.Add(backend));
        return new Step(next, null, [new MembershipChange(next.Backends.Length - 1, backend, MembershipChangeKind.Joined)]);
    }

    public static Step Remove(BalancerState state, RemoveBackend remove)
    {
        var index = state.IndexOf(remove.Backend);
        if (index < 0)
        {
            return new Step(state, null);
        }

        var backend = state.Backends[index] with { Draining = true, Removing = true, Removal = state.Backends[index].Removing ? state.Backends[index].Removal : state.Backends[index].Removal + 1 };
        var draining = state.WithBackend(index, backend);
        var started = backend.ActiveConnections > 0 && !state.Backends[index].Draining
            ? [new MembershipChange(index, backend, MembershipChangeKind.DrainStarted, remove.CloseAfter)]
            : ImmutableArray<BackendChange>.Empty;
        var (next, settled) = SettleDrain(draining, backend.Address);
        return new Step(next, null, started.AddRange(settled));
    }

    public static Step Drain(BalancerState state, DrainBackend drain)
    {
        var index = state.IndexOf(drain.Backend);
        if (index < 0 || state.Backends[index].Draining)
        {
            return new Step(state, null);
        }

        var backend = state.Backends[index] with { Draining = true, Disabled = false };
        var (next, settled) = SettleDrain(state.WithBackend(index, backend), backend.Address);
        return new Step(next, null, [new MembershipChange(index, backend, MembershipChangeKind.DrainStarted), .. settled]);
    }

    public static Step Reweight(BalancerState state, ReweightBackend reweight)
    {
        var index = state.IndexOf(reweight.Backend);
        if (index < 0 || state.Backends[index].Weight == reweight.Weight)
        {
            return new Step(state, null);
        }

        var backend = state.Backends[index] with { Weight = reweight.Weight };
        return new Step(state.WithBackend(index, backend), null, [new MembershipChange(index, backend, MembershipChangeKind.Reweighted)]);
    }

    /// <summary>Puts a backend in maintenance; one being removed is left to leave.</summary>
    public static Step Disable(BalancerState state, DisableBackend disable)
    {
        var index = state.IndexOf(disable.Backend);
        if (index < 0 || state.Backends[index] is { Disabled: true } or { Removing: true })
        {
            return new Step(state, null);
        }

        // Maintenance replaces draining: the backend stays a member however many connections it has.
        var backend = state.Backends[index] with { Disabled = true, Draining = false };
        return new Step(state.WithBackend(index, backend), null, [new MembershipChange(index, backend, MembershipChangeKind.Disabled)]);
    }

    /// <summary>Takes a backend out of maintenance and out of draining (a removal under way is called off too).</summary>
    public static Step Enable(BalancerState state, EnableBackend enable)
    {
        var index = state.IndexOf(enable.Backend);
        if (index < 0 || state.Backends[index] is { Disabled: false, Draining: false })
        {
            return new Step(state, null);
        }

        var backend = state.Backends[index] with { Disabled = false, Draining = false, Removing = false };
        return new Step(state.WithBackend(index, backend), null, [new MembershipChange(index, backend, MembershipChangeKind.Enabled)]);
    }

    /// <summary>
    /// After a backend's count went down (or it started draining): if it is draining and now idle it has
    /// drained, and if it was removed it leaves.
    /// </summary>
    public static (BalancerState State, ImmutableArray<BackendChange> Changes) SettleDrain(BalancerState state, string address)
    {
        var index = state.IndexOf(address);
        if (index < 0 || state.Backends[index] is not { Draining: true, ActiveConnections: 0 } backend)
        {
            return (state, []);
        }

        if (!backend.Removing)
        {
            return (state, [new MembershipChange(index, backend, MembershipChangeKind.Drained)]);
        }

        var next = state.WithMembers(state.Backends.RemoveAt(index));
        return (next, [new MembershipChange(index, backend, MembershipChangeKind.Drained), new MembershipChange(index, backend, MembershipChangeKind.Left)]);
    }
}
