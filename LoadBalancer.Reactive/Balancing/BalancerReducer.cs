namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The balancer as a function: <c>Reduce(state, event) → (state, decision)</c>. It is the only code that
/// changes balancer state, and it runs only inside the serialized fold. Given the same state, event,
/// strategy state and random sequence it gives the same result.
/// </summary>
internal static class BalancerReducer
{
    public static Step Reduce(BalancerState state, BalancerEvent @event, ILoadBalancingStrategy strategy, Random random) => @event switch
    {
        ConnectionArrived arrived => Arrive(state, arrived, strategy, random),
        ConnectionReleased released => Release(state, released),
        _ => new Step(state, null),
    };

    private static Step Arrive(BalancerState state, ConnectionArrived arrived, ILoadBalancingStrategy strategy, Random random)
    {
        // Ids come from the balancer itself; a repeat would mean a bug upstream, and counting it twice
        // would corrupt the counts, so it changes nothing.
        if (state.Connections.ContainsKey(arrived.ConnectionId))
        {
            return new Step(state, null);
        }

        var context = new BalancingContext(
            state.Backends, arrived.ConnectionId, arrived.Client, state.Decisions, state.MembershipVersion, random);
        int index;
        try
        {
            index = strategy.Pick(context);
        }
        catch (Exception)
        {
            // A user strategy that throws must not take the fold down; the connection is rejected
            // and the balancer goes on with the next one.
            index = BalancingContext.None;
        }

        if (index < 0 || index >= state.Backends.Length || !state.Backends[index].Available)
        {
            return new Step(
                state with { Decisions = state.Decisions + 1 },
                new Rejection(arrived.ConnectionId, Events.RejectionReason.NoBackendAvailable));
        }

        var backend = state.Backends[index];
        var updated = backend with
        {
            ActiveConnections = backend.ActiveConnections + 1,
            TotalConnections = backend.TotalConnections + 1,
        };
        var next = state with
        {
            Backends = state.WithBackend(index, updated, out var version),
            Connections = state.Connections.Add(arrived.ConnectionId, index),
            Decisions = state.Decisions + 1,
            MembershipVersion = version,
        };
        return new Step(next, new Assignment(arrived.ConnectionId, index, updated));
    }

    private static Step Release(BalancerState state, ConnectionReleased released)
    {
        // A release for a connection the fold never assigned (or already released) must not touch any
        // count: decrementing on it is how least-connection counters drift negative.
        if (!state.Connections.TryGetValue(released.ConnectionId, out var index))
        {
            return new Step(state, null);
        }

        var backend = state.Backends[index];
        var updated = backend with { ActiveConnections = backend.ActiveConnections - 1 };
        var next = state with
        {
            Backends = state.WithBackend(index, updated, out var version),
            Connections = state.Connections.Remove(released.ConnectionId),
            MembershipVersion = version,
        };
        return new Step(next, new Release(released.ConnectionId, index, updated));
    }
}
