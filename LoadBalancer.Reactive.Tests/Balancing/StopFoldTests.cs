using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Events;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Stopping, as the fold counts it: each connection that leaves is finished or cut, and the drain deadline empties the queue.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class StopFoldTests
{
    [Fact]
    public void Reduce_WhileStopping_CountsFinishedAndCutConnections_BeforeNothing()
    {
        var policy = Policy();
        var state = Fold(State(2), policy, Arrive(1), Arrive(2), Arrive(3), Release(1));
        Assert.Equal((0, 0), (state.FinishedWhileStopping, state.AbortedWhileStopping));

        state = Fold(state, policy,
            new StopRequested(),
            Release(2),
            new ConnectionEnded(3) { Reason = CompletionReason.Aborted },
            new ConnectionArrived(4) { Rejected = RejectionReason.FirstByteTimeout, Aborted = true });

        Assert.Equal((1, 2), (state.FinishedWhileStopping, state.AbortedWhileStopping));
    }

    [Fact]
    public void Reduce_DrainDeadline_RejectsTheQueueHeadFirst_OnePerStep_CountingEachAsCut()
    {
        var policy = Policy() with { MaxConnections = 1, MaxQueueLength = 5 };
        var state = Fold(State(1), policy, Arrive(1), Arrive(2), Arrive(3), new StopRequested());
        Assert.Equal(2, state.Queue.Count);

        var first = BalancerReducer.Reduce(state, new StopDeadlinePassed(), policy);
        var second = BalancerReducer.Reduce(first.State, new StopDeadlinePassed(), policy);
        var none = BalancerReducer.Reduce(second.State, new StopDeadlinePassed(), policy);

        Assert.Equal(
            [(2L, RejectionReason.BalancerStopping), (3L, RejectionReason.BalancerStopping)],
            new[] { first, second }.Select(step => Assert.IsType<Rejection>(step.Decision)).Select(r => (r.ConnectionId, r.Reason)));
        Assert.Null(none.Decision);
        Assert.Empty(none.State.Queue);
        Assert.Equal(2, none.State.AbortedWhileStopping);
        Assert.Single(none.State.Connections);
    }

    private static BalancerState Fold(BalancerState state, FoldPolicy policy, params BalancerInput[] inputs) =>
        inputs.Aggregate(state, (current, input) => BalancerReducer.Reduce(current, input, policy).State);
}
