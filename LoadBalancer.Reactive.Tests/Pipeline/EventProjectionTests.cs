using System.Net;
using System.Net.Sockets;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Pipeline;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Pipeline;

/// <summary>
/// The public events as a pure function of the fold's steps: each step here is made by the reducer from a state and
/// an input, and projected on its own. Every event is stamped with its input's time.
/// </summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class EventProjectionTests
{
    private const string A = "10.0.0.1:80";
    private const string B = "10.0.0.2:80";

    private static readonly EndPoint s_client = new IPEndPoint(IPAddress.Parse("192.0.2.10"), 50_000);
    private static readonly EndPoint s_listener = new IPEndPoint(IPAddress.Loopback, 8000);
    private static readonly EndPoint s_proxy = new IPEndPoint(IPAddress.Parse("10.1.1.1"), 1234);
    private static readonly EndPoint s_unknown = new IPEndPoint(IPAddress.None, 0);

    private BalancerState _state = State(2);
    private FoldPolicy _policy = Policy();

    [Fact]
    public void Project_ArrivalAssigned_AcceptsThenAssignsStampedWithTheInputsTime()
    {
        var arrived = new ConnectionArrived(1, s_client)
        {
            Time = At(1), AcceptedAt = At(0.5), ListenerEndPoint = s_listener, ProxiedBy = s_proxy, ServerName = "app.example",
        };

        var events = Project(arrived);

        Assert.Equal(
            [
                new ConnectionAccepted(1, s_client, s_listener) { ProxiedBy = s_proxy, ServerName = "app.example", Timestamp = At(1) },
                new ConnectionAssigned(1, A, ActiveConnections: 1, Attempt: 1) { Timestamp = At(1) },
            ],
            events);
    }

    [Fact]
    public void Project_ArrivalWithoutClientOrListener_NamesTheUnknownEndPoint()
    {
        var events = Project(new ConnectionArrived(1) { Time = At(1) });

        Assert.Equal(
            [new ConnectionAccepted(1, s_unknown, s_unknown) { Timestamp = At(1) }, new ConnectionAssigned(1, A, 1) { Timestamp = At(1) }],
            events);
    }

    [Fact]
    public void Project_ArrivalQueued_AcceptsThenQueues()
    {
        _policy = Policy() with { MaxConnections = 1, MaxQueueLength = 5 };
        Project(new ConnectionArrived(1, s_client) { Time = At(1) });

        var events = Project(new ConnectionArrived(2, s_client) { Time = At(2), ListenerEndPoint = s_listener });

        Assert.Equal(
            [
                new ConnectionAccepted(2, s_client, s_listener) { Timestamp = At(2) },
                new ConnectionQueued(2, Position: 1, QueueReason.ConnectionLimit) { Timestamp = At(2) },
            ],
            events);
    }

    [Fact]
    public void Project_ArrivalRejected_AcceptsThenRejectsNamingTheClient()
    {
        _state = State(0);

        var events = Project(new ConnectionArrived(1, s_client) { Time = At(1), ListenerEndPoint = s_listener });

        Assert.Equal(
            [
                new ConnectionAccepted(1, s_client, s_listener) { Timestamp = At(1) },
                new ConnectionRejected(1, s_client, RejectionReason.NoBackendAvailable) { Timestamp = At(1) },
            ],
            events);
    }

    [Fact]
    public void Project_PrefaceRejection_AcceptsThenRejectsAndTouchesNoCount()
    {
        var before = _state;
        var step = BalancerReducer.Reduce(
            before, new ConnectionArrived(1, s_client) { Time = At(1), ListenerEndPoint = s_listener, Rejected = RejectionReason.InvalidProxyHeader }, _policy);

        Assert.Equal(
            [
                new ConnectionAccepted(1, s_client, s_listener) { Timestamp = At(1) },
                new ConnectionRejected(1, s_client, RejectionReason.InvalidProxyHeader) { Timestamp = At(1) },
            ],
            EventProjection.Project(step));
        Assert.Same(before, step.State);
    }

    [Fact]
    public void Project_ConnectSucceeded_ReportsTheBackendConnectedWithTheConnectTime()
    {
        Project(new ConnectionArrived(1, s_client) { Time = At(1) });

        var events = Project(new ConnectSucceeded(1, TimeSpan.FromMilliseconds(12)) { Time = At(2) });

        Assert.Equal([new BackendConnected(1, A, TimeSpan.FromMilliseconds(12)) { Timestamp = At(2) }], events);
    }

    [Fact]
    public void Project_ConnectFailedWithAnotherBackendLeft_ReportsTheFailedAttemptThenTheRetry()
    {
        Project(new ConnectionArrived(1, s_client) { Time = At(1) });

        var events = Project(new ConnectFailed(1) { Time = At(2), Detail = new(SocketError.ConnectionRefused, "refused") });

        Assert.Equal(
            [
                new ConnectAttemptFailed(1, A, SocketError.ConnectionRefused, "refused", Attempt: 1) { Timestamp = At(2) },
                new ConnectionAssigned(1, B, ActiveConnections: 1, Attempt: 2) { Timestamp = At(2) },
            ],
            events);
    }

    [Fact]
    public void Project_ConnectFailedWithNoBackendLeft_ReportsTheFailedAttemptThenGivesUpWithItsDetail()
    {
        Project(new ConnectionArrived(1, s_client) { Time = At(1) });
        Project(new ConnectFailed(1) { Time = At(2), Detail = new(SocketError.ConnectionRefused, "refused") });

        var events = Project(new ConnectFailed(1) { Time = At(3), Detail = new(SocketError.TimedOut, "timed out") });

        Assert.Equal(
            [
                new ConnectAttemptFailed(1, B, SocketError.TimedOut, "timed out", Attempt: 2) { Timestamp = At(3) },
                new ConnectionFailed(1, B, SocketError.TimedOut, "timed out", ActiveConnections: 0, Attempts: 2) { Client = s_client, Timestamp = At(3) },
            ],
            events);
    }

    [Fact]
    public void Project_ConnectFailedWithoutDetailOnTheLastAttempt_SaysNoBackendCouldBeTried()
    {
        _policy = Policy(attempts: 1);
        Project(new ConnectionArrived(1, s_client) { Time = At(1) });

        var events = Project(new ConnectFailed(1) { Time = At(2) });

        Assert.Equal(
            [
                new ConnectAttemptFailed(1, A, SocketError.SocketError, "No backend could be tried.", Attempt: 1) { Timestamp = At(2) },
                new ConnectionFailed(1, A, SocketError.SocketError, "No backend could be tried.", ActiveConnections: 0, Attempts: 1) { Client = s_client, Timestamp = At(2) },
            ],
            events);
    }

    [Fact]
    public void Project_ConnectionEndedWithBytes_CompletesWithTheDurationSinceItArrived()
    {
        Project(new ConnectionArrived(1, s_client) { Time = At(1) });

        var events = Project(new ConnectionEnded(1) { Time = At(61), BytesFromClient = 10, BytesFromBackend = 20, Reason = CompletionReason.BackendClosed });

        Assert.Equal(
            [new ConnectionCompleted(1, A, 10, 20, TimeSpan.FromSeconds(60), CompletionReason.BackendClosed, ActiveConnections: 0) { Client = s_client, Timestamp = At(61) }],
            events);
    }

    [Fact]
    public void Project_ConnectionEndedThatReadAPreface_CountsItsDurationFromItsAccept()
    {
        Project(new ConnectionArrived(1, s_client) { Time = At(1), AcceptedAt = At(0.25) });

        var events = Project(new ConnectionEnded(1) { Time = At(61), BytesFromClient = 1, BytesFromBackend = 2 });

        Assert.Equal(
            [new ConnectionCompleted(1, A, 1, 2, TimeSpan.FromSeconds(60.75), CompletionReason.ClientClosed, ActiveConnections: 0) { Client = s_client, Timestamp = At(61) }],
            events);
    }

    [Fact]
    public void Project_ConnectionEndedNeverRelayed_FailsWithWhy()
    {
        Project(new ConnectionArrived(1, s_client) { Time = At(1) });

        var events = Project(new ConnectionEnded(1)
        {
            Time = At(2), Reason = CompletionReason.Aborted, NeverRelayed = new(SocketError.OperationAborted, "cut short"),
        });

        Assert.Equal([new ConnectionFailed(1, A, SocketError.OperationAborted, "cut short", ActiveConnections: 0) { Client = s_client, Timestamp = At(2) }], events);
    }

    [Fact]
    public void Project_HealthChange_ReportsOnlyTheProbeThatChangedIt()
    {
        // Fall is 3 by default: the first two failed probes change nothing anyone is told.
        var events = new[] { 1, 2, 3 }.Select(second => Project(new HealthProbed(A, Healthy: false) { Time = At(second) })).ToList();

        Assert.Empty(events[0]);
        Assert.Empty(events[1]);
        Assert.Equal([new BackendHealthChanged(A, Healthy: false) { Timestamp = At(3) }], events[2]);
    }

    [Fact]
    public void Project_EjectionThenItsTimeRunningOut_ReportsBoth()
    {
        _policy = Policy(outliers: new OutlierDetectionOptions { ConsecutiveFailures = 1 });
        Project(new ConnectionArrived(1, s_client) { Time = At(1) });

        var ejecting = Project(new ConnectFailed(1) { Time = At(2), Detail = new(SocketError.ConnectionRefused, "refused") });
        var expiring = Project(new EjectionExpired(A, Ejection: 1) { Time = At(32) });

        // The connection's own events first, then what happened to the backend as a whole.
        Assert.Equal(
            [
                new ConnectAttemptFailed(1, A, SocketError.ConnectionRefused, "refused", Attempt: 1) { Timestamp = At(2) },
                new ConnectionAssigned(1, B, ActiveConnections: 1, Attempt: 2) { Timestamp = At(2) },
                new BackendEjected(A, TimeSpan.FromSeconds(30), Ejections: 1) { Timestamp = At(2) },
            ],
            ejecting);
        Assert.Equal([new BackendEjectionEnded(A, ByProbe: false) { Timestamp = At(32) }], expiring);
    }

    [Fact]
    public void Project_EjectionEndedByAProbe_SaysSo()
    {
        _policy = Policy(outliers: new OutlierDetectionOptions { ConsecutiveFailures = 1 });
        Project(new ConnectionArrived(1, s_client) { Time = At(1) });
        Project(new ConnectFailed(1) { Time = At(2) });

        var events = Project(new HealthProbed(A, Healthy: true) { Time = At(5) });

        Assert.Equal([new BackendEjectionEnded(A, ByProbe: true) { Timestamp = At(5) }], events);
    }

    [Fact]
    public void Project_BackendJoins_ReportsTheJoinButNotItsSlowStart()
    {
        _policy = Policy() with { SlowStart = TimeSpan.FromSeconds(10) };
        var step = Fold(new AddBackend(new BackendOptions("10.0.0.9:80", weight: 3)) { Time = At(1) });

        Assert.Contains(step.Changes, change => change is SlowStartStep);
        Assert.Equal(
            [new BackendMembershipChanged("10.0.0.9:80", MembershipChangeKind.Joined, Weight: 3, ActiveConnections: 0) { Timestamp = At(1) }],
            EventProjection.Project(step));
    }

    [Fact]
    public void Project_BackendReweighted_ReportsItsNewWeight()
    {
        var events = Project(new ReweightBackend(A, 7) { Time = At(1) });

        Assert.Equal([new BackendMembershipChanged(A, MembershipChangeKind.Reweighted, Weight: 7, ActiveConnections: 0) { Timestamp = At(1) }], events);
    }

    [Fact]
    public void Project_BackendRemovedWhileServing_ReportsTheDrainThenItsLastConnectionThenTheLeave()
    {
        Project(new ConnectionArrived(1, s_client) { Time = At(1) });

        var removing = Project(new RemoveBackend(A, CloseAfter: TimeSpan.FromSeconds(10)) { Time = At(2) });
        var ending = Project(new ConnectionEnded(1) { Time = At(4) });

        Assert.Equal([new BackendMembershipChanged(A, MembershipChangeKind.DrainStarted, Weight: 1, ActiveConnections: 1) { Timestamp = At(2) }], removing);
        Assert.Equal(
            [
                new ConnectionCompleted(1, A, 0, 0, TimeSpan.FromSeconds(3), CompletionReason.ClientClosed, ActiveConnections: 0) { Client = s_client, Timestamp = At(4) },
                new BackendMembershipChanged(A, MembershipChangeKind.Drained, Weight: 1, ActiveConnections: 0) { Timestamp = At(4) },
                new BackendMembershipChanged(A, MembershipChangeKind.Left, Weight: 1, ActiveConnections: 0) { Timestamp = At(4) },
            ],
            ending);
    }

    [Fact]
    public void Project_ReleaseThatMakesRoom_AssignsTheQueuedConnectionAfterTheCompletion()
    {
        _state = State(1);
        _policy = Policy() with { MaxConnections = 1, MaxQueueLength = 5 };
        Project(new ConnectionArrived(1, s_client) { Time = At(1) });
        Project(new ConnectionArrived(2, s_client) { Time = At(2) });

        var events = Project(new ConnectionEnded(1) { Time = At(5) });

        Assert.Equal(
            [
                new ConnectionCompleted(1, A, 0, 0, TimeSpan.FromSeconds(4), CompletionReason.ClientClosed, ActiveConnections: 0) { Client = s_client, Timestamp = At(5) },
                new ConnectionAssigned(2, A, ActiveConnections: 1, Attempt: 1) { Timestamp = At(5) },
            ],
            events);
    }

    [Fact]
    public void Project_QueueTimedOut_RejectsTheWaitingClient()
    {
        _policy = Policy() with { MaxConnections = 1, MaxQueueLength = 5 };
        Project(new ConnectionArrived(1) { Time = At(1) });
        Project(new ConnectionArrived(2, s_client) { Time = At(2) });

        var events = Project(new QueueTimedOut(2) { Time = At(7) });

        Assert.Equal([new ConnectionRejected(2, s_client, RejectionReason.QueueTimeout) { Timestamp = At(7) }], events);
    }

    [Fact]
    public void Project_Reported_PublishesItsEventStampedWithTheInputsTime()
    {
        var events = Project(new Reported(new DiscoveryFailed("dns down") { Timestamp = At(99) }) { Time = At(3) });

        Assert.Equal([new DiscoveryFailed("dns down") { Timestamp = At(3) }], events);
    }

    [Fact]
    public void Project_StopFinished_ReportsTheStopWithTheFoldsTally()
    {
        Project(new ConnectionArrived(1) { Time = At(1) });
        Project(new ConnectionArrived(2) { Time = At(1) });
        Project(new ConnectionArrived(3) { Time = At(1) });
        Project(new StopRequested { Time = At(2) });
        Project(new ConnectionEnded(1) { Time = At(3) });
        Project(new ConnectionEnded(2) { Time = At(4) });
        Project(new ConnectionEnded(3) { Time = At(5), Reason = CompletionReason.Aborted });

        var events = Project(new StopFinished { Time = At(6) });

        Assert.Equal([new BalancerStopped(Finished: 2, Aborted: 1) { Timestamp = At(6) }], events);
    }

    [Fact]
    public void Project_InputsThatDecideNothing_ProduceNothing()
    {
        Project(new ConnectionArrived(1, s_client) { Time = At(1) });
        BalancerInput[] nothing =
        [
            new ConnectionArrived(1, s_client) { Time = At(2) },
            new ConnectionArrived(1, s_client) { Time = At(2), Rejected = RejectionReason.FirstByteTimeout },
            new ConnectionEnded(99) { Time = At(2) },
            new ConnectSucceeded(99, TimeSpan.FromMilliseconds(1)) { Time = At(2) },
            new ConnectFailed(99) { Time = At(2) },
            new HealthProbed(A, Healthy: true) { Time = At(2) },
            new HealthProbed("10.9.9.9:80", Healthy: false) { Time = At(2) },
            new EjectionExpired(A, Ejection: 1) { Time = At(2) },
            new QueueTimedOut(99) { Time = At(2) },
            new SlowStartTick(A) { Time = At(2) },
            new CloseDeadlinePassed(A) { Time = At(2) },
            new DrainBackend("10.9.9.9:80") { Time = At(2) },
            new StopRequested { Time = At(2) },
            new StopDeadlinePassed { Time = At(2) },
            Sample(At(2), (1, 10, 10)),
            Sample(At(2), (99, 10, 10)),
        ];

        Assert.All(nothing, input => Assert.Empty(Project(input)));
    }

    [Fact]
    public void Project_ToACallback_PublishesWhatTheListHolds()
    {
        var step = Fold(new ConnectionArrived(1, s_client) { Time = At(1), ListenerEndPoint = s_listener });
        var published = new List<LoadBalancerEvent>();

        EventProjection.Project(step, published.Add);

        Assert.Equal(EventProjection.Project(step), published);
    }

    [Fact]
    public void CountBytes_SamplesOfLiveRelays_CountWhatEachMovedPerBackend_AndTheEndOnlyTheRest()
    {
        Fold(new ConnectionArrived(1, s_client) { Time = At(1) });
        Fold(new ConnectionArrived(2, s_client) { Time = At(1) });
        var counted = new List<(string Backend, long FromClient, long FromBackend)>();
        IReadOnlyList<LoadBalancerEvent> Count(BalancerInput input)
        {
            var step = Fold(input);
            EventProjection.CountBytes(step, (backend, fromClient, fromBackend) => counted.Add((backend, fromClient, fromBackend)));
            return EventProjection.Project(step);
        }

        Assert.Empty(Count(Sample(At(2), (1, 100, 40), (2, 5, 0))));
        Assert.Empty(Count(Sample(At(3), (1, 150, 40), (2, 5, 0))));
        var completed = Count(new ConnectionEnded(1) { Time = At(3.5), BytesFromClient = 157, BytesFromBackend = 40 });
        Count(Sample(At(4), (1, 157, 40)));

        // Connection 1 went to A and 2 to B. The unchanged relay counts nothing, the end counts the 7 bytes no sample
        // saw, a sample folded after the end counts nothing: the sums are the totals, which the event carries whole.
        Assert.Equal([(A, 100, 40), (B, 5, 0), (A, 50, 0), (A, 7, 0)], counted);
        var ended = Assert.IsType<ConnectionCompleted>(Assert.Single(completed));
        Assert.Equal((A, 157, 40), (ended.Backend, ended.BytesFromClient, ended.BytesFromBackend));
        Assert.Equal((157, 40), (counted.Where(c => c.Backend == A).Sum(c => c.FromClient), counted.Where(c => c.Backend == A).Sum(c => c.FromBackend)));
    }

    [Fact]
    public void CountBytes_TwoRelaysOnOneBackend_OneCountForTheBackend()
    {
        _state = State(1);
        Fold(new ConnectionArrived(1, s_client) { Time = At(1) });
        Fold(new ConnectionArrived(2, s_client) { Time = At(1) });
        var counted = new List<(string, long, long)>();

        var step = Fold(Sample(At(2), (1, 100, 1), (2, 20, 2)));
        EventProjection.CountBytes(step, (backend, fromClient, fromBackend) => counted.Add((backend, fromClient, fromBackend)));

        Assert.Equal([(A, 120, 3)], counted);
        Assert.Equal((100, 1), (_state.Connections[1].BytesFromClient, _state.Connections[1].BytesFromBackend));
        Assert.Null(step.Decision);
    }

    [Fact]
    public void CountBytes_EndOfAConnectionNoSampleSaw_CountsItsTotals_AndOtherStepsNothing()
    {
        var counted = new List<(string, long, long)>();
        void Count(BalancerInput input) =>
            EventProjection.CountBytes(Fold(input), (backend, fromClient, fromBackend) => counted.Add((backend, fromClient, fromBackend)));

        Count(new ConnectionArrived(1, s_client) { Time = At(1) });
        Count(new ConnectSucceeded(1, TimeSpan.FromMilliseconds(1)) { Time = At(1) });
        Count(new ConnectionEnded(1) { Time = At(2), BytesFromClient = 5, BytesFromBackend = 6 });
        Count(new ConnectionEnded(1) { Time = At(3), BytesFromClient = 5, BytesFromBackend = 6 });

        Assert.Equal([(A, 5, 6)], counted);
    }

    private static BytesRelayed Sample(DateTimeOffset time, params (long Id, long FromClient, long FromBackend)[] relays) =>
        new([.. relays.Select(relay => new RelayedSoFar(relay.Id, relay.FromClient, relay.FromBackend))]) { Time = time };

    private Step Fold(BalancerInput input)
    {
        var step = BalancerReducer.Reduce(_state, input, _policy);
        _state = step.State;
        return step;
    }

    private IReadOnlyList<LoadBalancerEvent> Project(BalancerInput input) => EventProjection.Project(Fold(input));

    private static DateTimeOffset At(double seconds) => DateTimeOffset.UnixEpoch.AddSeconds(seconds);
}
