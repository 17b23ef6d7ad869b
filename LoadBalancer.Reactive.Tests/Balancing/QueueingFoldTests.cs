using System.Reactive;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Testing;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;
using static LoadBalancer.Reactive.Tests.Infrastructure.VirtualTime;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Connection limits and the wait queue in the fold, as timelines in virtual time.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class QueueingFoldTests
{
    private const string A = "10.0.0.1:80";
    private const string B = "10.0.0.2:80";

    [Fact]
    public void ConnectionLimit_QueuesThenRefuses_AndFreedSlotsServeTheQueueInOrder()
    {
        var steps = Run(
            Options(A, B) with { MaxConnections = 2, MaxQueueLength = 2 },
            [
                .. Enumerable.Range(1, 5).Select(id => OnNext(Seconds(id), Arrive(id))),
                OnNext(Seconds(6), Release(1)),
                OnNext(Seconds(7), Release(2)),
            ]);

        Assert.IsType<Assignment>(StepAt(steps, 1).Decision);
        Assert.IsType<Assignment>(StepAt(steps, 2).Decision);
        Assert.Equal((1, QueueReason.ConnectionLimit), Queued(StepAt(steps, 3)));
        Assert.Equal((2, QueueReason.ConnectionLimit), Queued(StepAt(steps, 4)));
        Assert.Equal(RejectionReason.ConnectionLimitReached, Assert.IsType<Rejection>(StepAt(steps, 5).Decision).Reason);
        Assert.Equal([3L], StepAt(steps, 6).FromQueue.Select(a => a.ConnectionId));
        Assert.Equal([4L], StepAt(steps, 7).FromQueue.Select(a => a.ConnectionId));
        Assert.Equal(2, StepAt(steps, 7).Snapshot.ActiveConnections);
    }

    [Fact]
    public void QueueTimeout_RejectsAWaitingConnectionAtTheExactTick()
    {
        var steps = Run(
            Options(A) with { MaxConnections = 1, MaxQueueLength = 1, QueueTimeout = TimeSpan.FromSeconds(5) },
            OnNext(Seconds(1), Arrive(1)),
            OnNext(Seconds(2), Arrive(2)),
            OnNext(Seconds(8), Release(1)));

        var timedOut = steps.Single(s => s.Step.Decision is Rejection);
        Assert.Equal((7.0, RejectionReason.QueueTimeout), (timedOut.Second, ((Rejection)timedOut.Step.Decision!).Reason));
        Assert.Empty(StepAt(steps, 8).FromQueue);
    }

    [Fact]
    public void FullBackends_MakeConnectionsWait_AndAFreedSlotTakesTheHead()
    {
        var steps = Run(
            Options(A, B) with { MaxQueueLength = 10 },
            maxPerBackend: 1,
            OnNext(Seconds(1), Arrive(1)),
            OnNext(Seconds(2), Arrive(2)),
            OnNext(Seconds(3), Arrive(3)),
            OnNext(Seconds(4), Arrive(4)),
            OnNext(Seconds(5), Release(2)));

        Assert.Equal((1, QueueReason.BackendsFull), Queued(StepAt(steps, 3)));
        Assert.Equal((2, QueueReason.BackendsFull), Queued(StepAt(steps, 4)));
        var placed = Assert.Single(StepAt(steps, 5).FromQueue);
        Assert.Equal((3L, B), (placed.ConnectionId, placed.Backend.Address));
    }

    [Fact]
    public void ABackendJoining_PlacesEveryConnectionItHasRoomFor()
    {
        var steps = Run(
            Options(A) with { MaxQueueLength = 10 },
            maxPerBackend: 1,
            OnNext(Seconds(1), Arrive(1)),
            OnNext(Seconds(2), Arrive(2)),
            OnNext(Seconds(3), Arrive(3)),
            OnNext(Seconds(4), new AddBackend(new BackendOptions(B) { MaxConnections = 5 })));

        Assert.Equal([2L, 3L], StepAt(steps, 4).FromQueue.Select(a => a.ConnectionId));
        Assert.All(StepAt(steps, 4).FromQueue, a => Assert.Equal(B, a.Backend.Address));
    }

    [Fact]
    public void DownIsNotFull_AndWithoutAQueueFullBackendsRefuse()
    {
        var down = Run(
            Options(A) with { MaxQueueLength = 10, HealthCheck = new HealthCheckOptions { Fall = 1 } },
            OnNext(Seconds(1), new HealthProbed(A, false)),
            OnNext(Seconds(2), Arrive(1)));
        var full = Run(Options(B), maxPerBackend: 1, OnNext(Seconds(10), Arrive(10)), OnNext(Seconds(11), Arrive(11)));

        Assert.Equal(RejectionReason.NoBackendAvailable, Assert.IsType<Rejection>(StepAt(down, 2).Decision).Reason);
        Assert.Equal(RejectionReason.AllBackendsFull, Assert.IsType<Rejection>(StepAt(full, 11).Decision).Reason);
    }

    private static LoadBalancerOptions Options(params string[] backends) =>
        new() { Backends = [.. backends.Select(address => new BackendOptions(address))], HealthCheck = Balancers.NoHealthChecks };

    private static List<(double Second, BalancingStep Step)> Run(LoadBalancerOptions options, params Recorded<Notification<BalancerInput>>[] timeline) =>
        Run(options, maxPerBackend: 0, timeline);

    // The fold over a hot timeline on a scheduler of its own (which times the queue's timeouts), every backend
    // taking at most maxPerBackend connections (0: no limit); every step, with the second it was made at.
    private static List<(double Second, BalancingStep Step)> Run(
        LoadBalancerOptions options, int maxPerBackend, params Recorded<Notification<BalancerInput>>[] timeline)
    {
        var scheduler = new TestScheduler();
        var events = scheduler.CreateHotObservable(timeline);
        var limited = options with { Backends = [.. options.Backends.Select(b => b with { MaxConnections = maxPerBackend })] };
        return scheduler.StartFold(() => BalancingFold.Run(events, limited, scheduler)).Values();
    }

    private static BalancingStep StepAt(List<(double Second, BalancingStep Step)> steps, double second) => steps.Single(s => s.Second == second).Step;

    private static (int Position, QueueReason Reason) Queued(BalancingStep step)
    {
        var queued = Assert.IsType<Queued>(step.Decision);
        return (queued.Position, queued.Reason);
    }
}
