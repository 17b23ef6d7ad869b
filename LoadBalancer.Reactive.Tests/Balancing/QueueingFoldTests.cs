using System.Reactive.Subjects;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Testing;
using LoadBalancer.Reactive.Tests.Infrastructure;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Connection limits and the wait queue in the fold, as timelines in virtual time.</summary>
public class QueueingFoldTests
{
    private const string A = "10.0.0.1:80";
    private const string B = "10.0.0.2:80";

    private readonly TestScheduler _scheduler = new();
    private readonly Subject<BalancerInput> _events = new();
    private readonly List<(double Second, BalancingStep Step)> _steps = [];

    [Fact]
    public void ConnectionLimit_QueuesThenRefuses_AndFreedSlotsServeTheQueueInOrder()
    {
        Run(Options(A, B) with { MaxConnections = 2, MaxQueueLength = 2 });
        for (var id = 1; id <= 5; id++)
        {
            At(id, Arrive(id));
        }

        At(6, Release(1));
        At(7, Release(2));
        _scheduler.Start();

        Assert.IsType<Assignment>(StepAt(1).Decision);
        Assert.IsType<Assignment>(StepAt(2).Decision);
        Assert.Equal((1, QueueReason.ConnectionLimit), Queued(StepAt(3)));
        Assert.Equal((2, QueueReason.ConnectionLimit), Queued(StepAt(4)));
        Assert.Equal(RejectionReason.ConnectionLimitReached, Assert.IsType<Rejection>(StepAt(5).Decision).Reason);
        Assert.Equal([3L], StepAt(6).FromQueue.Select(a => a.ConnectionId));
        Assert.Equal([4L], StepAt(7).FromQueue.Select(a => a.ConnectionId));
        Assert.Equal(2, StepAt(7).Snapshot.ActiveConnections);
    }

    [Fact]
    public void QueueTimeout_RejectsAWaitingConnectionAtTheExactTick()
    {
        Run(Options(A) with { MaxConnections = 1, MaxQueueLength = 1, QueueTimeout = TimeSpan.FromSeconds(5) });
        At(1, Arrive(1));
        At(2, Arrive(2));
        At(8, Release(1));
        _scheduler.Start();

        var timedOut = _steps.Single(s => s.Step.Decision is Rejection);
        Assert.Equal((7.0, RejectionReason.QueueTimeout), (timedOut.Second, ((Rejection)timedOut.Step.Decision!).Reason));
        Assert.Empty(StepAt(8).FromQueue);
    }

    [Fact]
    public void FullBackends_MakeConnectionsWait_AndAFreedSlotTakesTheHead()
    {
        Run(Options(A, B) with { MaxQueueLength = 10 }, maxPerBackend: 1);
        At(1, Arrive(1));
        At(2, Arrive(2));
        At(3, Arrive(3));
        At(4, Arrive(4));
        At(5, Release(2));
        _scheduler.Start();

        Assert.Equal((1, QueueReason.BackendsFull), Queued(StepAt(3)));
        Assert.Equal((2, QueueReason.BackendsFull), Queued(StepAt(4)));
        var placed = Assert.Single(StepAt(5).FromQueue);
        Assert.Equal((3L, B), (placed.ConnectionId, placed.Backend.Address));
    }

    [Fact]
    public void ABackendJoining_PlacesEveryConnectionItHasRoomFor()
    {
        Run(Options(A) with { MaxQueueLength = 10 }, maxPerBackend: 1);
        At(1, Arrive(1));
        At(2, Arrive(2));
        At(3, Arrive(3));
        At(4, new AddBackend(new BackendOptions(B) { MaxConnections = 5 }));
        _scheduler.Start();

        Assert.Equal([2L, 3L], StepAt(4).FromQueue.Select(a => a.ConnectionId));
        Assert.All(StepAt(4).FromQueue, a => Assert.Equal(B, a.Backend.Address));
    }

    [Fact]
    public void DownIsNotFull_AndWithoutAQueueFullBackendsRefuse()
    {
        using (Run(Options(A) with { MaxQueueLength = 10, HealthCheck = new HealthCheckOptions { Fall = 1 } }))
        {
            At(1, new HealthProbed(A, false));
            At(2, Arrive(1));
            _scheduler.Start();
        }

        Assert.Equal(RejectionReason.NoBackendAvailable, Assert.IsType<Rejection>(StepAt(2).Decision).Reason);

        _steps.Clear();
        Run(Options(B), maxPerBackend: 1);
        At(10, Arrive(10));
        At(11, Arrive(11));
        _scheduler.Start();
        Assert.Equal(RejectionReason.AllBackendsFull, Assert.IsType<Rejection>(StepAt(11).Decision).Reason);
    }

    private static LoadBalancerOptions Options(params string[] backends) =>
        new() { Backends = [.. backends.Select(address => new BackendOptions(address))], HealthCheck = Balancers.NoHealthChecks };

    private IDisposable Run(LoadBalancerOptions options, int maxPerBackend = 0) =>
        BalancingFold.Run(_events, options with { Backends = [.. options.Backends.Select(b => b with { MaxConnections = maxPerBackend })] }, _scheduler)
            .Subscribe(step => _steps.Add((TimeSpan.FromTicks(_scheduler.Clock).TotalSeconds, step)));

    private void At(double second, BalancerInput @event) => _scheduler.At(TimeSpan.FromSeconds(second).Ticks, () => _events.OnNext(@event));

    private BalancingStep StepAt(double second) => _steps.Single(s => s.Second == second).Step;

    private static (int Position, QueueReason Reason) Queued(BalancingStep step)
    {
        var queued = Assert.IsType<Queued>(step.Decision);
        return (queued.Position, queued.Reason);
    }
}
