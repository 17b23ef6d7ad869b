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
    public static IEnumerable<LoadBalancerEvent> Project(Step step)
    {
        var events = new List<LoadBalancerEvent>(2);
        AddFromInput(step, events);
        foreach (var change in step.Changes)
        {
            if (FromChange(change) is { } published)
            {
                events.Add(published);
            }
        }

        foreach (var placed in step.FromQueue)
        {
            events.Add(Assigned(placed));
        }

        var time = step.Input?.Time ?? default;
        for (var i = 0; i < events.Count; i++)
        {
            events[i] = events[i] with { Timestamp = time };
        }

        return events;
    }

    private static void AddFromInput(in Step step, List<LoadBalancerEvent> events)
    {
        var state = step.State;
        switch (step.Input)
        {
            case ConnectionArrived arrived when step.Decision?.ConnectionId == arrived.ConnectionId:
                events.Add(new ConnectionAccepted(arrived.ConnectionId, arrived.Client ?? s_unknown, arrived.ListenerEndPoint ?? s_unknown)
                {
                    ProxiedBy = arrived.ProxiedBy,
                    ServerName = arrived.ServerName,
                });
                AddDecision(step.Decision, detail: null, events);
                break;

            case ConnectSucceeded connected when state.Connections.TryGetValue(connected.ConnectionId, out var live):
                events.Add(new BackendConnected(connected.ConnectionId, live.Backend, connected.ConnectTime));
                break;

            case ConnectFailed failed when step.Decision is Assignment retry:
                // Retried: the backend that failed is the last one tried, and its attempt the one before.
                var tried = state.Connections[retry.ConnectionId].Tried;
                events.Add(AttemptFailed(failed, tried[^1], retry.Attempt - 1));
                AddDecision(retry, failed.Detail, events);
                break;

            case ConnectFailed failed when step.Decision is GiveUp givenUp:
                events.Add(AttemptFailed(failed, givenUp.Backend.Address, givenUp.Attempts));
                AddDecision(givenUp, failed.Detail, events);
                break;

            case ConnectionEnded ended when step.Decision is Release release:
                var backend = release.Backend;
                events.Add(ended.Failure is { } failure
                    ? new ConnectionFailed(release.ConnectionId, backend.Address, failure.Error, failure.Message, backend.ActiveConnections)
                    : new ConnectionCompleted(
                        release.ConnectionId, backend.Address, ended.BytesFromClient, ended.BytesFromBackend,
                        ended.Time - (release.Connection?.ArrivedAt ?? ended.Time), ended.Reason, backend.ActiveConnections));
                break;

            case ListenersBound bound:
                events.Add(new BalancerStarted(bound.EndPoints));
                break;

            case StopFinished:
                events.Add(new BalancerStopped(state.FinishedWhileStopping, state.CutWhileStopping));
                break;

            case AcceptErrored accept:
                events.Add(new AcceptFailed(accept.Listener, accept.Detail.Error, accept.Detail.Message));
                break;

            case BackendSetRefused refused:
                events.Add(new MembershipRejected(refused.Errors));
                break;

            case DiscoveryErrored discovery:
                events.Add(new DiscoveryFailed(discovery.Message));
                break;

            default:
                // Queue timeouts and the drain deadline reject; other inputs decide nothing about a connection.
                AddDecision(step.Decision, detail: null, events);
                break;
        }
    }

    private static void AddDecision(Decision? decision, FailureDetail? detail, List<LoadBalancerEvent> events)
    {
        switch (decision)
        {
            case Assignment assignment:
                events.Add(Assigned(assignment));
                break;
            case Queued queued:
                events.Add(new ConnectionQueued(queued.ConnectionId, queued.Position, queued.Reason));
                break;
            case Rejection rejection:
                events.Add(new ConnectionRejected(rejection.ConnectionId, rejection.Client ?? s_unknown, rejection.Reason));
                break;
            case GiveUp givenUp:
                var last = detail ?? s_noDetail;
                events.Add(new ConnectionFailed(
                    givenUp.ConnectionId, givenUp.Backend.Address, last.Error, last.Message, givenUp.Backend.ActiveConnections, givenUp.Attempts));
                break;
        }
    }

    private static ConnectionAssigned Assigned(Assignment assignment) =>
        new(assignment.ConnectionId, assignment.Backend.Address, assignment.Backend.ActiveConnections, assignment.Attempt);

    private static ConnectAttemptFailed AttemptFailed(ConnectFailed failed, string backend, int attempt)
    {
        var detail = failed.Detail ?? s_noDetail;
        return new ConnectAttemptFailed(failed.ConnectionId, backend, detail.Error, detail.Message, attempt);
    }

    private static LoadBalancerEvent? FromChange(BackendChange change) => change switch
    {
        HealthChange health => new BackendHealthChanged(health.Backend.Address, health.Backend.Healthy),
        Ejection ejection => new BackendEjected(ejection.Backend.Address, ejection.Duration, ejection.Backend.Ejections),
        EjectionEnded ended => new BackendEjectionEnded(ended.Backend.Address, ended.ByProbe),
        MembershipChange membership => new BackendMembershipChanged(
            membership.Backend.Address, membership.Kind, membership.Backend.Weight, membership.Backend.ActiveConnections),
        // Slow start shows in the snapshot; hosts are not sent an event per step of the ramp.
        _ => null,
    };
}
