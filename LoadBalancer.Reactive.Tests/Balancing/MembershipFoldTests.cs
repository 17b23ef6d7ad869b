using System.Reactive.Linq;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Backends joining, draining, re-weighting and leaving while connections flow, in the fold.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class MembershipFoldTests
{
    private const string A = "10.0.0.1:80";
    private const string B = "10.0.0.2:80";
    private const string C = "10.0.0.3:80";

    [Fact]
    public void AddBackend_JoinsAndTakesTheNextConnection()
    {
        var steps = Fold(Options(A, B), Arrive(1), Arrive(2), new AddBackend(new BackendOptions(C)), Arrive(3));

        Assert.Equal(MembershipChangeKind.Joined, Change(steps[2]).Kind);
        Assert.Equal(C, Assigned(steps[3]));
        Assert.Equal([A, B, C], steps[^1].Snapshot.Backends.Select(b => b.Address));
    }

    [Fact]
    public void DrainBackend_TakesNothingNew_AndSaysWhenItsLastConnectionEnded()
    {
        var steps = Fold(Options(A, B), Arrive(1), Arrive(2), new DrainBackend(A), Arrive(3), Arrive(4), Release(1));

        Assert.Equal(MembershipChangeKind.DrainStarted, Change(steps[2]).Kind);
        Assert.Equal([B, B], new[] { Assigned(steps[3]), Assigned(steps[4]) });
        Assert.Equal((MembershipChangeKind.Drained, A), (Change(steps[5]).Kind, Change(steps[5]).Backend.Address));
        Assert.True(steps[^1].Snapshot.Backends[0].Draining);
    }

    [Fact]
    public void DrainIdleBackend_IsDrainedAtOnce()
    {
        var steps = Fold(Options(A, B), new DrainBackend(B));

        Assert.Equal([MembershipChangeKind.DrainStarted, MembershipChangeKind.Drained], steps[0].Changes.OfType<MembershipChange>().Select(c => c.Kind));
    }

    [Fact]
    public void RemoveBackendWithConnections_DrainsThenLeaves_AndLaterBackendsKeepTheirCounts()
    {
        // A leaves while C (after it in the list) still has a connection: C's count must survive the shift.
        var steps = Fold(Options(A, B, C), Arrive(1), Arrive(2), Arrive(3), new RemoveBackend(A), Release(1), Release(3));

        Assert.Equal(MembershipChangeKind.DrainStarted, Change(steps[3]).Kind);
        Assert.Equal([MembershipChangeKind.Drained, MembershipChangeKind.Left], steps[4].Changes.OfType<MembershipChange>().Select(c => c.Kind));
        Assert.Equal([B, C], steps[4].Snapshot.Backends.Select(b => b.Address));
        Assert.Equal((C, 0), (steps[5].Snapshot.Backends[1].Address, steps[5].Snapshot.Backends[1].ActiveConnections));
        Assert.Equal(1, steps[5].Snapshot.Backends[0].ActiveConnections);
    }

    [Fact]
    public void RemoveIdleBackend_LeavesAtOnce_AndUnknownNamesChangeNothing()
    {
        var steps = Fold(Options(A, B), new RemoveBackend(B), new RemoveBackend("10.9.9.9:1"), new DrainBackend(B), new ReweightBackend(B, 3));

        Assert.Equal([MembershipChangeKind.Drained, MembershipChangeKind.Left], steps[0].Changes.OfType<MembershipChange>().Select(c => c.Kind));
        Assert.All(steps.Skip(1), step => Assert.Empty(step.Changes));
        Assert.Equal([A], steps[^1].Snapshot.Backends.Select(b => b.Address));
    }

    [Fact]
    public void AddingADrainingBackend_ResumesItWithTheNewWeight()
    {
        var steps = Fold(Options(A, B), Arrive(1), new DrainBackend(A), new AddBackend(new BackendOptions(A, weight: 5)), Arrive(2));

        Assert.Equal(MembershipChangeKind.Joined, Change(steps[2]).Kind);
        Assert.Equal((false, 5), (steps[2].Snapshot.Backends[0].Draining, steps[2].Snapshot.Backends[0].Weight));
    }

    [Fact]
    public void Reweight_ChangesTheSplitOfNewConnectionsAtOnce()
    {
        var events = new List<BalancerInput>();
        events.AddRange(Enumerable.Range(1, 4).SelectMany(id => new BalancerInput[] { Arrive(id), Release(id) }));
        events.Add(new ReweightBackend(A, 3));
        events.AddRange(Enumerable.Range(5, 8).SelectMany(id => new BalancerInput[] { Arrive(id), Release(id) }));

        var steps = Fold(Options(A, B) with { Strategy = LoadBalancingStrategies.WeightedRoundRobin }, [.. events]);

        var picks = steps.Select(s => s.Decision).OfType<Assignment>().Select(a => a.Backend.Address == A ? 'a' : 'b');
        Assert.Equal("abab" + "aabaaaba", string.Concat(picks));
        Assert.Equal(MembershipChangeKind.Reweighted, Change(steps[8]).Kind);
    }

    [Fact]
    public void Diff_JoinsAndRemovesByLevel_WeightsByWhatTheSetSaysAnew_AndKeepsAnOperatorsDrain()
    {
        var current = Members(A, B, C);
        current[2] = current[2] with { Draining = true };

        var changes = MembershipDiff.Compute(current, [new BackendOptions(A, weight: 2), new BackendOptions(C), new BackendOptions("10.0.0.4:80")], Previous(A, B, C));

        Assert.Equal([new ReweightBackend(A, 2), new AddBackend(new BackendOptions("10.0.0.4:80")), new RemoveBackend(B)], changes);
    }

    [Fact]
    public void Diff_AppliesAStateTheSetChanges_AndTakesBackOneBeingRemoved()
    {
        var current = Members(A, B, C);
        current[1] = current[1] with { Disabled = true };
        current[2] = current[2] with { Draining = true, Removing = true };
        var previous = Previous(A, B, C);
        previous[B] = new BackendOptions(B) { State = BackendState.Disabled };

        var changes = MembershipDiff.Compute(
            current,
            [new BackendOptions(A) { State = BackendState.Draining }, new BackendOptions(B), new BackendOptions(C) { State = BackendState.Disabled }],
            previous);

        Assert.Equal([new DrainBackend(A), new EnableBackend(B), new AddBackend(new BackendOptions(C) { State = BackendState.Disabled })], changes);
    }

    [Fact]
    public void Diff_TheSameSetAgain_UndoesNoOperatorsMaintenanceOrWeight()
    {
        var current = Members(A, B);
        current[0] = current[0] with { Weight = 5 };
        current[1] = current[1] with { Disabled = true };

        Assert.Empty(MembershipDiff.Compute(current, [new BackendOptions(A), new BackendOptions(B)], Previous(A, B)));
    }

    [Fact]
    public void Diff_ABackendBackInTheSets_Joins_EvenWhileItsRemovalIsStillOnTheWay()
    {
        // The previous set left B out and its removal is posted, but the members do not show it yet.
        var changes = MembershipDiff.Compute(Members(A, B), [new BackendOptions(A), new BackendOptions(B)], Previous(A));

        Assert.Equal([new AddBackend(new BackendOptions(B))], changes);
    }

    [Fact]
    public void Diff_AMemberNewToTheSets_TakesTheSetsWeightAndState()
    {
        var changes = MembershipDiff.Compute(Members(A), [new BackendOptions(A, weight: 3) { State = BackendState.Draining }], Previous());

        Assert.Equal(
            [new AddBackend(new BackendOptions(A, weight: 3) { State = BackendState.Draining }), new ReweightBackend(A, 3), new DrainBackend(A)],
            changes);
    }

    [Fact]
    public void CloseDeadline_OfAnEarlierRemoval_CutsNothing_TheCurrentRemovalsDoes()
    {
        var options = Options(A, B);
        var policy = FoldPolicy.From(options, new LeastConnectionsStrategy());
        var state = BalancerState.Create(options.Backends);

        // Connection 1 on A (B is in maintenance meanwhile).
        state = BalancerReducer.Reduce(state, new DisableBackend(B), policy).State;
        state = BalancerReducer.Reduce(state, Arrive(1), policy).State;
        state = BalancerReducer.Reduce(state, new RemoveBackend(A, TimeSpan.FromSeconds(60)), policy).State;
        state = BalancerReducer.Reduce(state, new EnableBackend(A), policy).State;
        state = BalancerReducer.Reduce(state, new RemoveBackend(A, TimeSpan.FromMinutes(10)), policy).State;
        var removal = state.Backends[0].Removal;

        var early = BalancerReducer.Reduce(state, new CloseDeadlinePassed(A, removal - 1), policy);
        var current = BalancerReducer.Reduce(state, new CloseDeadlinePassed(A, removal), policy);

        Assert.Equal(2, removal);
        Assert.Empty(early.Aborts);
        Assert.Equal([1L], current.Aborts.ToArray());
    }

    [Fact]
    public void DisableBackend_TakesNothingNew_KeepsItsConnectionsAndItsPlace_UntilEnabled()
    {
        var steps = Fold(Options(A, B), Arrive(1), Arrive(2), new DisableBackend(A), Arrive(3), Release(1), Arrive(4), new EnableBackend(A), Arrive(5));

        Assert.Equal(MembershipChangeKind.Disabled, Change(steps[2]).Kind);
        Assert.Equal(B, Assigned(steps[3]));
        Assert.Empty(steps[4].Changes);
        Assert.Equal((A, true), (steps[4].Snapshot.Backends[0].Address, steps[4].Snapshot.Backends[0].Disabled));
        Assert.Equal(B, Assigned(steps[5]));
        Assert.Equal(MembershipChangeKind.Enabled, Change(steps[6]).Kind);
        Assert.Equal(A, Assigned(steps[7]));
    }

    [Fact]
    public void DrainAndDisable_ReplaceEachOther_EnableEndsEither_AndARemovalIsCalledOff()
    {
        var steps = Fold(
            Options(A, B),
            Arrive(1),
            new DisableBackend(A),
            new DrainBackend(A),
            new DisableBackend(A),
            new EnableBackend(A),
            new EnableBackend(A),
            new RemoveBackend(A),
            new DisableBackend(A),
            new EnableBackend(A));

        Assert.Equal((true, false), (steps[1].Snapshot.Backends[0].Disabled, steps[1].Snapshot.Backends[0].Draining));
        Assert.Equal((false, true), (steps[2].Snapshot.Backends[0].Disabled, steps[2].Snapshot.Backends[0].Draining));
        Assert.Equal((true, false), (steps[3].Snapshot.Backends[0].Disabled, steps[3].Snapshot.Backends[0].Draining));
        Assert.Equal(MembershipChangeKind.Enabled, Change(steps[4]).Kind);
        Assert.Empty(steps[5].Changes);
        Assert.Empty(steps[7].Changes);
        Assert.Equal(MembershipChangeKind.Enabled, Change(steps[8]).Kind);
        Assert.Equal((false, false, false), (steps[8].Snapshot.Backends[0].Draining, steps[8].Snapshot.Backends[0].Removing, steps[8].Snapshot.Backends[0].Disabled));
    }

    [Fact]
    public void BackendsConfiguredDrainingOrDisabled_StartThatWay()
    {
        var options = new LoadBalancerOptions
        {
            Backends = [new BackendOptions(A) { State = BackendState.Disabled }, new BackendOptions(B) { State = BackendState.Draining }, new BackendOptions(C)],
        };

        var steps = Fold(options, Arrive(1), Arrive(2));

        Assert.Equal([C, C], steps.Select(Assigned));
        Assert.Equal([true, false, false], steps[^1].Snapshot.Backends.Select(b => b.Disabled));
        Assert.Equal([false, true, false], steps[^1].Snapshot.Backends.Select(b => b.Draining));
    }

    private static List<BackendSnapshot> Members(params string[] addresses) =>
        [.. addresses.Select(address => BalancerState.FromOptions(new BackendOptions(address), new HealthCheckOptions()))];

    private static Dictionary<string, BackendOptions> Previous(params string[] addresses) =>
        addresses.ToDictionary(address => address, address => new BackendOptions(address), StringComparer.OrdinalIgnoreCase);

    private static LoadBalancerOptions Options(params string[] backends) => new() { Backends = [.. backends.Select(a => new BackendOptions(a))] };

    private static List<BalancingStep> Fold(LoadBalancerOptions options, params BalancerInput[] events) =>
        [.. BalancingFold.Run(events.ToObservable(), options).ToEnumerable()];

    private static string Assigned(BalancingStep step) => Assert.IsType<Assignment>(step.Decision).Backend.Address;

    private static MembershipChange Change(BalancingStep step) => Assert.IsType<MembershipChange>(Assert.Single(step.Changes));
}
