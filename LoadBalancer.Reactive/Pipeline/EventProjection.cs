using System.Net;
using System.Net.Sockets;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Pipeline;

/// <summary>
/// The public events, projected from the fold's steps: a pure function of each step (its input, decision,
/// changes and state), so the fold's input log replays into exactly the events a balancer published. Each
/// event is stamped with the time of the input that caused it.
/// </summary>
internal static class EventProjection
{
    private static readonly EndPoint s_unknown = new IPEndPoint(IPAddress.None, 0);
    private static readonly FailureDetail s_noDetail = new(SocketError.SocketError, "No backend could be tried.");

    /// <summary>What hosts are told about <paramref name="step"/>, in order.</summary>
    public static IReadOnlyList<LoadBalancerEvent> Project(Step step)
    {
        var events = new List<LoadBalancerEvent>(2);
        Project(step, events.Add);
        return events;
    }

    /// <summary>
    /// Tells <paramref name="publish"/> what hosts are told about <paramref name="step"/>, in order, without
    /// collecting it first: the balancer's way, a few allocations less per connection.
    /// </summary>
    public static void Project(in Step step, Action<LoadBalancerEvent> publish)
    {
        var time = step.Input?.Time ?? default;
        FromInput(step, time, publish);
        foreach (var change in step.Changes)
        {
            if (FromChange(change, time) is { } published)
            {
                publish(published);
            }
        }

        foreach (var placed in step.FromQueue)
        {
            publish(Assigned(placed, time));
        }
    }

    /// <summary>
    /// Tells <paramref name="count"/> the bytes <paramref name="step"/> adds to the byte counters, per backend (its
    /// address, bytes from the client, bytes from the backend): what a sample of live relays moved, or what an ended
    /// connection relayed since its last sample. Each byte is counted once, while it flows; the
    /// <see cref="ConnectionCompleted"/> of a connection still carries its totals.
    /// </summary>
    public static void CountBytes(in Step step, Action<string, long, long> count)
    {
        switch (step.Input)
        {
            case BytesRelayed:
                foreach (var change in step.Changes)
                {
                    if (change is BytesCounted counted)
                    {
                        count(counted.Backend.Address, counted.BytesFromClient, counted.BytesFromBackend);
                    }
                }

                break;

            case ConnectionEnded ended when step.Decision is Release release:
                var (fromClient, fromBackend) = LiveBytes.Remainder(ended, release.Connection);
                if ((fromClient | fromBackend) != 0)
                {
                    count(release.Backend.Address, fromClient, fromBackend);
                }

                break;
        }
    }

    private static void FromInput(in Step step, DateTimeOffset time, Action<LoadBalancerEvent> publish)
    {
        var state = step.State;
        switch (step.Input)
        {
            case ConnectionArrived arrived when step.Decision?.ConnectionId == arrived.ConnectionId:
                publish(new ConnectionAccepted(arrived.ConnectionId, arrived.Client ?? s_unknown, arrived.ListenerEndPoint ?? s_unknown)
                {
                    ProxiedBy = arrived.ProxiedBy,
                    ServerName = arrived.ServerName,
                    Timestamp = time,
                });
                Decide(step.Decision, detail: null, time, publish);
                break;

            case ConnectSucceeded connected when state.Connections.TryGetValue(connected.ConnectionId, out var live):
                publish(new BackendConnected(connected.ConnectionId, live.Backend, connected.ConnectTime) { Timestamp = time });
                break;

            case ConnectFailed failed when step.Decision is Assignment retry:
                // Retried: the backend that failed is the last one tried, and its attempt the one before.
                var tried = state.Connections[retry.ConnectionId].Tried;
                publish(AttemptFailed(failed, tried[^1], retry.Attempt - 1, time));
                Decide(retry, failed.Detail, time, publish);
                break;

            case ConnectFailed failed when step.Decision is GiveUp givenUp:
                publish(AttemptFailed(failed, givenUp.Backend.Address, givenUp.Attempts, time));
                Decide(givenUp, failed.Detail, time, publish);
                break;

            case ConnectionEnded ended when step.Decision is Release release:
                var backend = release.Backend;
                publish(ended.NeverRelayed is { } failure
                    ? new ConnectionFailed(release.ConnectionId, backend.Address, failure.Error, failure.Message, backend.ActiveConnections)
                    {
                        Client = release.Connection?.Client,
                        Listener = release.Connection?.Listener,
                        Timestamp = time,
                    }
                    : new ConnectionCompleted(
                        release.ConnectionId, backend.Address, ended.BytesFromClient, ended.BytesFromBackend,
                        ended.Time - (release.Connection?.ArrivedAt ?? ended.Time), ended.Reason, backend.ActiveConnections)
                    {
                        Client = release.Connection?.Client,
                        Listener = release.Connection?.Listener,
                        ConnectTime = ended.ConnectTime ?? TimeSpan.Zero,
                        Timestamp = time,
                    });
                break;

            case StopFinished:
                publish(new BalancerStopped(state.FinishedWhileStopping, state.AbortedWhileStopping) { Timestamp = time });
                break;

            case Reported reported:
                publish(reported.Event with { Timestamp = time });
                break;

            case Reconfigured reconfigured:
                publish(reconfigured.Change with { Timestamp = time });
                break;

            default:
                // Queue timeouts and the drain deadline reject; other inputs decide nothing about a connection.
                Decide(step.Decision, detail: null, time, publish);
                break;
        }
    }

    private static void Decide(Decision? decision, FailureDetail? detail, DateTimeOffset time, Action<LoadBalancerEvent> publish)
    {
        switch (decision)
        {
            case Assignment assignment:
                publish(Assigned(assignment, time));
                break;
            case Queued queued:
                publish(new ConnectionQueued(queued.ConnectionId, queued.Position, queued.Reason) { Timestamp = time });
                break;
            case Rejection rejection:
                publish(new ConnectionRejected(rejection.ConnectionId, rejection.Client ?? s_unknown, rejection.Reason) { Timestamp = time });
                break;
            case GiveUp givenUp:
                var last = detail ?? s_noDetail;
                publish(new ConnectionFailed(
                    givenUp.ConnectionId, givenUp.Backend.Address, last.Error, last.Message, givenUp.Backend.ActiveConnections, givenUp.Attempts)
                {
                    Client = givenUp.Connection?.Client,
                    Listener = givenUp.Connection?.Listener,
                    Timestamp = time,
                });
                break;
        }
    }

    private static ConnectionAssigned Assigned(Assignment assignment, DateTimeOffset time) =>
        new(assignment.ConnectionId, assignment.Backend.Address, assignment.Backend.ActiveConnections, assignment.Attempt) { Timestamp = time };

    private static ConnectAttemptFailed AttemptFailed(ConnectFailed failed, string backend, int attempt, DateTimeOffset time)
    {
        var detail = failed.Detail ?? s_noDetail;
        return new ConnectAttemptFailed(failed.ConnectionId, backend, detail.Error, detail.Message, attempt) { Timestamp = time };
    }

    private static LoadBalancerEvent? FromChange(BackendChange change, DateTimeOffset time) => change switch
    {
        HealthChange health => new BackendHealthChanged(health.Backend.Address, health.Backend.Healthy) { Timestamp = time },
        Ejection ejection => new BackendEjected(ejection.Backend.Address, ejection.Duration, ejection.Backend.Ejections) { Timestamp = time },
        EjectionEnded ended => new BackendEjectionEnded(ended.Backend.Address, ended.ByProbe) { Timestamp = time },
        MembershipChange membership => new BackendMembershipChanged(
            membership.Backend.Address, membership.Kind, membership.Backend.Weight, membership.Backend.ActiveConnections) { Timestamp = time },
        // Slow start shows in the snapshot; hosts are not sent an event per step of the ramp.
        _ => null,
    };
}
