using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Events;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class BalancerReducerTests
{
    private readonly FoldPolicy _policy = Policy();

    [Fact]
    public void Reduce_Arrival_AssignsAndCountsIt()
    {
        var step = BalancerReducer.Reduce(State(3), Arrive(1), _policy);

        var assignment = Assert.IsType<Assignment>(step.Decision);
        Assert.Equal(0, assignment.BackendIndex);
        Assert.Equal(1, assignment.Backend.ActiveConnections);
        Assert.Equal([1, 0, 0], Active(step.State));
        Assert.Equal(1, step.State.Backends[0].TotalConnections);
        Assert.Equal("10.0.0.1:80", step.State.Connections[1].Backend);
    }

    [Fact]
    public void Reduce_Release_DecrementsTheBackendItWasAssignedTo()
    {
        var state = Fold(State(3), Arrive(1), Arrive(2), Arrive(3));

        var step = BalancerReducer.Reduce(state, Release(2), _policy);

        var release = Assert.IsType<Release>(step.Decision);
        Assert.Equal(1, release.BackendIndex);
        Assert.Equal(0, release.Backend.ActiveConnections);
        Assert.Equal([1, 0, 1], Active(step.State));
        Assert.False(step.State.Connections.ContainsKey(2));
    }

    [Fact]
    public void Reduce_ReleaseOfUnknownConnection_ChangesNothing()
    {
        var state = Fold(State(2), Arrive(1));

        var step = BalancerReducer.Reduce(state, Release(42), _policy);

        Assert.Null(step.Decision);
        Assert.Same(state, step.State);
    }

    [Fact]
    public void Reduce_SecondReleaseOfSameConnection_ChangesNothing()
    {
        var state = Fold(State(2), Arrive(1), Release(1));

        var step = BalancerReducer.Reduce(state, Release(1), _policy);

        Assert.Null(step.Decision);
        Assert.Equal([0, 0], Active(step.State));
    }

    [Fact]
    public void Reduce_RepeatedArrivalId_IsNotCountedTwice()
    {
        var state = Fold(State(2), Arrive(1));

        var step = BalancerReducer.Reduce(state, Arrive(1), _policy);

        Assert.Null(step.Decision);
        Assert.Equal([1, 0], Active(step.State));
    }

    [Fact]
    public void Reduce_NoAvailableBackend_Rejects()
    {
        var step = BalancerReducer.Reduce(State(0, 0), Arrive(1), _policy);

        var rejection = Assert.IsType<Rejection>(step.Decision);
        Assert.Equal(RejectionReason.NoBackendAvailable, rejection.Reason);
        Assert.Equal([0, 0], Active(step.State));
        Assert.Empty(step.State.Connections);
    }

    [Fact]
    public void Reduce_DoesNotChangeTheStateItWasGiven()
    {
        var state = State(2);

        BalancerReducer.Reduce(state, Arrive(1), _policy);

        Assert.Equal([0, 0], Active(state));
        Assert.Empty(state.Connections);
    }

    private BalancerState Fold(BalancerState state, params BalancerInput[] events) =>
        events.Aggregate(state, (current, @event) => BalancerReducer.Reduce(current, @event, _policy).State);
}
