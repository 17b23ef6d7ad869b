namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The balancer as a pure function: <c>Reduce(state, event) → (state, decision)</c>. It is the only
/// code that changes balancer state, and it runs only inside the serialized fold.
/// </summary>
internal static class BalancerReducer
{
    public static Step Reduce(BalancerState state, BalancerEvent @event, ILoadBalancingStrategy strategy) => @event switch
    {
        ConnectionArrived arrived => Arrive(state, arrived, strategy),
        ConnectionReleased released => Release(state, released),
        _ => new Step(state, null),
    };

    private static Step Arrive(BalancerState state, ConnectionArrived arrived, ILoadBalancingStrategy strategy)
    {
        // Ids come from the balancer itself; a repeat would mean a bug upstream, and counting it twice
        // would corrupt the counts, so it changes nothing.
        if (state.Connections.ContainsKey(arrived.ConnectionId))
        {
            return new Step(state, null);
        }

        var index = strategy.Pick(new BalancingContext(state.Backends, arrived.Client, state.Decisions));
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
        var next = new BalancerState(
            state.Backends.SetItem(index, updated),
            state.Connections.Add(arrived.ConnectionId, index),
            state.Decisions + 1);
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
            Backends = state.Backends.SetItem(index, updated),
            Connections = state.Connections.Remove(released.ConnectionId),
        };
        return new Step(next, new Release(released.ConnectionId, index, updated));
    }
}
