using System.Collections.Immutable;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The fold's queue: connections that arrive at the connection limit, or when every backend that
/// serves is full, wait first come first served (as HAProxy's maxconn, maxqueue and timeout queue), and
/// are placed as soon as an event makes room.
/// </summary>
internal static class Queueing
{
    public static bool AtConnectionLimit(BalancerState state, FoldPolicy policy) =>
        policy.MaxConnections > 0 && state.Connections.Count >= policy.MaxConnections;

    public static Step Enqueue(BalancerState state, ConnectionArrived arrived, QueueReason reason, FoldPolicy policy)
    {
        if (state.Queue.Count >= policy.MaxQueueLength)
        {
            var refused = reason == QueueReason.ConnectionLimit ? RejectionReason.ConnectionLimitReached : RejectionReason.AllBackendsFull;
            return new Step(state, new Rejection(arrived.ConnectionId, refused) { Client = arrived.Client });
        }

        var queue = state.Queue.Add(new Waiter(arrived.ConnectionId, arrived.Client, reason, policy.Router?.Route(arrived.ServerName), arrived.Since)
        {
            Listener = arrived.ListenerEndPoint,
        });
        return new Step(state with { Queue = queue }, new Queued(arrived.ConnectionId, queue.Count, reason));
    }

    public static Step TimeOut(BalancerState state, QueueTimedOut timedOut)
    {
        var index = state.Queue.FindIndex(waiter => waiter.ConnectionId == timedOut.ConnectionId);
        return index < 0
            ? new Step(state, null)
            : new Step(state with { Queue = state.Queue.RemoveAt(index) }, new Rejection(timedOut.ConnectionId, RejectionReason.QueueTimeout) { Client = state.Queue[index].Client });
    }

    /// <summary>
    /// The balancer's drain deadline passed: the connection at the head of the queue is rejected. One per step
    /// (a step decides about one connection); the pipeline folds the deadline again while any still waits.
    /// </summary>
    public static Step RejectHead(BalancerState state)
    {
        if (state.Queue.IsEmpty)
        {
            return new Step(state, null);
        }

        var head = state.Queue[0];
        return new Step(state with { Queue = state.Queue.RemoveAt(0) }, new Rejection(head.ConnectionId, RejectionReason.BalancerStopping) { Client = head.Client });
    }

    /// <summary>Places waiting connections, in order, for as long as there is room; stops at the first that cannot be placed.</summary>
    public static Step Serve(Step step, FoldPolicy policy)
    {
        var state = step.State;
        var placed = ImmutableArray.CreateBuilder<Assignment>();
        while (!state.Queue.IsEmpty && !AtConnectionLimit(state, policy))
        {
            var head = state.Queue[0];
            var index = BalancerReducer.PickWithPanic(state, head.ConnectionId, head.Client, head.Pool, policy);
            if (index < 0)
            {
                break;
            }

            var waiting = state with { Queue = state.Queue.RemoveAt(0), Decisions = state.Decisions + 1 };
            var assigned = BalancerReducer.Assign(
                waiting, head.ConnectionId, index, new LiveConnection(head.ArrivedAt, state.Backends[index].Address, 1, head.Client, [], head.Pool) { Listener = head.Listener });
            placed.Add((Assignment)assigned.Decision!);
            state = assigned.State;
        }

        return placed.Count == 0 ? step : step with { State = state, FromQueue = placed.ToImmutable() };
    }
}
