using System.Collections.Immutable;
using LoadBalancer.Reactive.Balancing.Strategies;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The balancer as a function: <c>Reduce(state, event) → (state, decision, backend changes)</c>. It is the
/// only code that changes balancer state, and it runs only inside the serialized fold. Given the same
/// state, event, strategy state and random sequence it gives the same result.
/// </summary>
internal static class BalancerReducer
{
    public static Step Reduce(BalancerState state, BalancerInput input, FoldPolicy policy)
    {
        var step = ReduceInput(state, input, policy);
        return (step.State.Stopping ? CountWhileStopping(step, input) : step) with { Input = input };
    }

    private static Step ReduceInput(BalancerState state, BalancerInput input, FoldPolicy policy)
    {
        if (input is BytesRelayed relayed)
        {
            // Counting changes no decision: no queue, slow start or client tally to settle.
            return LiveBytes.Count(state, relayed);
        }

        if (input is ConnectionArrived { Rejected: { } refusal } refused)
        {
            // Refused before it could be balanced (its preface was bad or never came): nothing is counted.
            return IsKnown(state, refused.ConnectionId)
                ? new Step(state, null)
                : new Step(state, new Rejection(refused.ConnectionId, refusal) { Client = refused.Client });
        }

        if (input is ConnectionArrived arrived && policy.Clients.Any && !IsKnown(state, arrived.ConnectionId))
        {
            var (admitted, clientRefusal) = ClientAdmission.Admit(state, arrived, policy.Clients);
            if (clientRefusal is { } reason)
            {
                return new Step(admitted with { Decisions = admitted.Decisions + 1 }, new Rejection(arrived.ConnectionId, reason) { Client = arrived.Client });
            }

            state = admitted;
        }

        var step = SlowStart.Begin(ReduceEvent(state, input, policy), policy);
        step = step.State.Queue.IsEmpty ? step : Queueing.Serve(step, policy);
        return ClientAdmission.Settle(step, policy.Clients);
    }

    // While stopping, every connection that leaves the fold is counted once: aborted if the balancer aborted it (at
    // the deadline, or while reading its preface), else finished by itself.
    private static Step CountWhileStopping(Step step, BalancerInput input)
    {
        if (step.Decision is not (Balancing.Release or GiveUp or Rejection))
        {
            return step;
        }

        var aborted = input switch
        {
            ConnectionEnded ended => ended.Reason == Events.CompletionReason.Aborted,
            ConnectionArrived arrived => arrived.Aborted,
            StopDeadlinePassed => true,
            _ => false,
        };
        var state = step.State;
        return step with
        {
            State = aborted ? state with { AbortedWhileStopping = state.AbortedWhileStopping + 1 } : state with { FinishedWhileStopping = state.FinishedWhileStopping + 1 },
        };
    }

    // A repeated arrival id changes nothing (see Arrive), so it must not be counted against its client either.
    private static bool IsKnown(BalancerState state, long connectionId) =>
        state.Connections.ContainsKey(connectionId) || state.ClientOf.ContainsKey(connectionId);

    private static Step ReduceEvent(BalancerState state, BalancerInput @event, FoldPolicy policy) => @event switch
    {
        ConnectionArrived arrived => Arrive(state, arrived, policy),
        ConnectFailed failed => FailAttempt(state, failed, policy),
        ConnectionEnded released => Release(state, released, policy),
        HealthProbed probed => Probe(state, probed),
        EjectionExpired expired => Expire(state, expired),
        AddBackend add => Membership.Add(state, add, policy),
        RemoveBackend remove => Membership.Remove(state, remove),
        DrainBackend drain => Membership.Drain(state, drain),
        ReweightBackend reweight => Membership.Reweight(state, reweight),
        DisableBackend disable => Membership.Disable(state, disable),
        EnableBackend enable => Membership.Enable(state, enable),
        QueueTimedOut timedOut => Queueing.TimeOut(state, timedOut),
        SlowStartTick tick => SlowStart.Tick(state, tick, policy),
        CloseDeadlinePassed deadline => AbortConnectionsTo(state, deadline),
        Reconfigured reconfigured => MemberSettings.Apply(state, reconfigured.Options),
        StopRequested => new Step(state with { Stopping = true }, null),
        StopDeadlinePassed => Queueing.RejectHead(state),
        // Connected, listening, accept and discovery problems change nothing here: they are folded so that
        // the public events are all projected from one ordered log of inputs.
        _ => new Step(state, null),
    };

    private static Step AbortConnectionsTo(BalancerState state, CloseDeadlinePassed deadline)
    {
        // Only the deadline of the removal under way: an earlier one (the backend was enabled, then removed again) is spent.
        var address = deadline.Backend;
        var index = state.IndexOf(address);
        if (index < 0 || !state.Backends[index].Removing || state.Backends[index].Removal != deadline.Removal)
        {
            return new Step(state, null);
        }

        var aborted = state.Connections.Where(pair => string.Equals(pair.Value.Backend, address, StringComparison.OrdinalIgnoreCase))
            .Select(pair => pair.Key).ToImmutableArray();
        return new Step(state, null) { Aborts = aborted };
    }

    private static Step Arrive(BalancerState state, ConnectionArrived arrived, FoldPolicy policy)
    {
        // Ids come from the balancer itself; a repeat would mean a bug upstream, and counting it twice
        // would corrupt the counts, so it changes nothing.
        if (state.Connections.ContainsKey(arrived.ConnectionId))
        {
            return new Step(state, null);
        }

        // Nobody jumps the queue: while connections wait, a newcomer waits behind them.
        var decided = state with { Decisions = state.Decisions + 1 };
        if (!state.Queue.IsEmpty || Queueing.AtConnectionLimit(state, policy))
        {
            return Queueing.Enqueue(
                decided, arrived, state.Queue.IsEmpty ? Events.QueueReason.ConnectionLimit : state.Queue[^1].Reason, policy);
        }

        var pool = policy.Router?.Route(arrived.ServerName);
        var index = PickWithPanic(state, arrived.ConnectionId, arrived.Client, pool, policy);
        if (index >= 0)
        {
            return Assign(decided, arrived.ConnectionId, index, new LiveConnection(arrived.Since, state.Backends[index].Address, 1, arrived.Client, [], pool)
            {
                Listener = arrived.ListenerEndPoint,
            });
        }

        return state.Backends.Any(backend => backend.InService && backend.Full && ServerNameRouter.InPool(backend, pool))
            ? Queueing.Enqueue(decided, arrived, Events.QueueReason.BackendsFull, policy)
            : new Step(decided, new Rejection(arrived.ConnectionId, Events.RejectionReason.NoBackendAvailable) { Client = arrived.Client });
    }

    private static Step FailAttempt(BalancerState state, ConnectFailed failed, FoldPolicy policy)
    {
        if (!state.Connections.TryGetValue(failed.ConnectionId, out var live))
        {
            return new Step(state, null);
        }

        var index = state.IndexOf(live.Backend);
        var backend = state.Backends[index];
        var (next, changes) = CountFailure(
            state.WithBackend(index, backend with { ActiveConnections = backend.ActiveConnections - 1 }), index, policy);
        next = next with { Connections = next.Connections.Remove(failed.ConnectionId) };
        var failedOn = next.Backends[index];

        var tried = live.Tried.Add(live.Backend);
        if (live.Attempt < policy.MaxConnectAttempts)
        {
            // The backends tried are marked one by one (O(log n) each), not by copying every backend.
            var retryView = ServerNameRouter.Restrict(next.Backends, live.Pool);
            foreach (var address in tried)
            {
                var at = next.IndexOf(address);
                retryView = at < 0 ? retryView : retryView.SetItem(at, retryView[at] with { Excluded = true });
            }

            var retry = Pick(next, retryView, failed.ConnectionId, live.Client, policy);
            if (retry >= 0)
            {
                var retried = live with { Backend = next.Backends[retry].Address, Attempt = live.Attempt + 1, Tried = tried };
                var assigned = Assign(next, failed.ConnectionId, retry, retried);
                var (settled, drained) = Membership.SettleDrain(assigned.State, failedOn.Address);
                return assigned with { State = settled, Changes = changes.AddRange(drained) };
            }
        }

        var (left, lastChanges) = Membership.SettleDrain(next, failedOn.Address);
        return new Step(left, new GiveUp(failed.ConnectionId, index, failedOn, live.Attempt) { Connection = live }, changes.AddRange(lastChanges));
    }

    private static Step Release(BalancerState state, ConnectionEnded released, FoldPolicy policy)
    {
        // A release for a connection the fold never assigned (or already released) must not touch any
        // count: decrementing on it is how least-connection counters drift negative.
        if (!state.Connections.TryGetValue(released.ConnectionId, out var live))
        {
            return new Step(state, null);
        }

        var index = state.IndexOf(live.Backend);
        var backend = state.Backends[index];
        var next = state.WithBackend(index, backend with { ActiveConnections = backend.ActiveConnections - 1 }) with
        {
            Connections = state.Connections.Remove(released.ConnectionId),
        };

        // A clean end proves the backend serves; a reset before its first byte proves it does not.
        var changes = ImmutableArray<BackendChange>.Empty;
        if (released.BackendFailed)
        {
            (next, changes) = CountFailure(next, index, policy);
        }
        else if (next.Backends[index].ConsecutiveFailures > 0)
        {
            next = next.WithBackend(index, next.Backends[index] with { ConsecutiveFailures = 0 });
        }

        var releasedFrom = next.Backends[index];
        var (settled, drained) = Membership.SettleDrain(next, releasedFrom.Address);
        return new Step(settled, new Release(released.ConnectionId, index, releasedFrom) { Connection = live }, changes.AddRange(drained));
    }

    private static Step Probe(BalancerState state, HealthProbed probed)
    {
        var index = state.IndexOf(probed.Backend);
        if (index < 0)
        {
            return new Step(state, null);
        }

        var backend = state.Backends[index];
        var changes = ImmutableArray.CreateBuilder<BackendChange>();
        if (probed.Healthy == backend.Healthy)
        {
            backend = backend with { ProbeStreak = 0 };
        }
        else if (backend.ProbeStreak + 1 >= (probed.Healthy ? backend.Rise : backend.Fall))
        {
            backend = backend with { Healthy = probed.Healthy, ProbeStreak = 0 };
            changes.Add(new HealthChange(index, backend));
        }
        else
        {
            backend = backend with { ProbeStreak = backend.ProbeStreak + 1 };
        }

        // A backend that answers a probe is not an outlier any more: its ejection ends at once.
        if (probed.Healthy && backend.Ejected)
        {
            backend = backend with { Ejected = false, ConsecutiveFailures = 0 };
            changes.Add(new EjectionEnded(index, backend, ByProbe: true));
        }

        return new Step(state.WithBackend(index, backend), null, changes.ToImmutable());
    }

    private static Step Expire(BalancerState state, EjectionExpired expired)
    {
        var index = state.IndexOf(expired.Backend);
        if (index < 0 || state.Backends[index] is not { Ejected: true } backend || backend.Ejections != expired.Ejection)
        {
            return new Step(state, null);
        }

        backend = backend with { Ejected = false, ConsecutiveFailures = 0 };
        return new Step(state.WithBackend(index, backend), null, [new EjectionEnded(index, backend, ByProbe: false)]);
    }

    /// <summary>The strategy's pick among available backends, or in panic mode among all weighted ones; -1 for none.</summary>
    /// <param name="state">The state to pick in.</param>
    /// <param name="connectionId">The connection.</param>
    /// <param name="client">Its client, for strategies that hash it.</param>
    /// <param name="pool">The pool it was routed to; only its backends may be picked. Null when nothing is routed.</param>
    /// <param name="policy">The fold's rules.</param>
    internal static int PickWithPanic(BalancerState state, long connectionId, System.Net.EndPoint? client, string? pool, FoldPolicy policy)
    {
        var view = ServerNameRouter.Restrict(state.Backends, pool);
        var index = Pick(state, view, connectionId, client, policy);
        return index < 0 && policy.PanicMode ? Pick(state, PanicView(view), connectionId, client, policy) : index;
    }

    internal static Step Assign(BalancerState state, long connectionId, int index, LiveConnection live)
    {
        var backend = state.Backends[index];
        var updated = backend with
        {
            ActiveConnections = backend.ActiveConnections + 1,
            TotalConnections = backend.TotalConnections + 1,
        };
        var next = state.WithBackend(index, updated) with { Connections = state.Connections.SetItem(connectionId, live) };
        return new Step(next, new Assignment(connectionId, index, updated, live.Attempt));
    }

    // Counts one failure against a backend and ejects it once it has failed enough times in a row, as
    // long as the cap on ejected backends allows and (unless configured) another backend stays available.
    private static (BalancerState State, ImmutableArray<BackendChange> Changes) CountFailure(
        BalancerState state, int index, FoldPolicy policy)
    {
        var backend = state.Backends[index];
        backend = backend with
        {
            ConsecutiveFailures = backend.ConsecutiveFailures + 1,
            FailedConnections = backend.FailedConnections + 1,
        };
        var outliers = policy.Outliers;
        if (!outliers.Enabled || backend.Ejected || backend.ConsecutiveFailures < outliers.ConsecutiveFailures
            || !MayEject(state, index, outliers))
        {
            return (state.WithBackend(index, backend), []);
        }

        var ejections = backend.Ejections + 1;
        var duration = TimeSpan.FromTicks(Math.Min(outliers.BaseEjectionTime.Ticks * ejections, outliers.MaxEjectionTime.Ticks));
        backend = backend with { Ejected = true, Ejections = ejections, ConsecutiveFailures = 0 };
        return (state.WithBackend(index, backend), [new Ejection(index, backend, duration)]);
    }

    private static bool MayEject(BalancerState state, int index, Configuration.OutlierDetectionOptions outliers)
    {
        int members = 0, ejected = 0, othersAvailable = 0;
        for (var i = 0; i < state.Backends.Length; i++)
        {
            var backend = state.Backends[i];
            members += backend.Weight > 0 ? 1 : 0;
            ejected += backend.Ejected ? 1 : 0;
            othersAvailable += i != index && backend.Available ? 1 : 0;
        }

        return (ejected + 1) * 100 <= members * outliers.MaxEjectionPercent
            && (othersAvailable > 0 || outliers.EjectLastAvailable);
    }

    private static int Pick(
        BalancerState state, BackendList view, long connectionId, System.Net.EndPoint? client, FoldPolicy policy)
    {
        var context = new BalancingContext(view, connectionId, client, state.Decisions, state.MembershipVersion, policy.Random);
        int index;
        try
        {
            index = policy.Strategy.Pick(context);
        }
        catch (Exception)
        {
            // A user strategy that throws must not take the fold down; the connection is rejected
            // (or fails) and the balancer goes on with the next one.
            return BalancingContext.None;
        }

        return index >= 0 && index < view.Length && view[index].Available ? index : BalancingContext.None;
    }

    // Panic mode: every weighted backend counts as healthy and not ejected.
    private static BackendList PanicView(BackendList backends) =>
        BackendList.From(backends.Select(backend => backend with { Healthy = true, Ejected = false }));
}
