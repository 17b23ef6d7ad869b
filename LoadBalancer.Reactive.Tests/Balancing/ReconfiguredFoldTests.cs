using System.Net;
using System.Reactive;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Pipeline;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;
using static LoadBalancer.Reactive.Tests.Infrastructure.VirtualTime;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>A live reconfiguration as the fold folds it: a <see cref="Reconfigured"/> input on a timeline in virtual time.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class ReconfiguredFoldTests
{
    private const string A = "10.0.0.1:80";
    private const string B = "10.0.0.2:80";
    private static readonly IPEndPoint s_client = new(IPAddress.Parse("10.9.1.1"), 40000);

    [Fact]
    public void AccessRules_ChangedLive_RefuseNewArrivals_WhileConnectionsAdmittedBeforeCarryOn()
    {
        var options = Options(A);
        var steps = Run(
            options,
            OnNext(Seconds(1), Arrive(1, s_client)),
            OnNext(Seconds(2), Reconfigure(options with { Clients = new ClientOptions { Deny = ["10.9.0.0/16"] } })),
            OnNext(Seconds(3), Arrive(2, s_client)),
            OnNext(Seconds(4), Release(1)));

        Assert.IsType<Assignment>(StepAt(steps, 1).Decision);
        Assert.Equal(RejectionReason.Denied, Assert.IsType<Rejection>(StepAt(steps, 3).Decision).Reason);
        Assert.IsType<LoadBalancer.Reactive.Balancing.Release>(StepAt(steps, 4).Decision);
        Assert.Equal(0, StepAt(steps, 4).State.Backends[0].ActiveConnections);
    }

    [Fact]
    public void ConnectionLimit_RaisedLive_ServesTheQueueInTheReconfiguredStep()
    {
        var options = Options(A) with { MaxConnections = 1, MaxQueueLength = 5 };
        var steps = Run(
            options,
            OnNext(Seconds(1), Arrive(1)),
            OnNext(Seconds(2), Arrive(2)),
            OnNext(Seconds(3), Arrive(3)),
            OnNext(Seconds(4), Reconfigure(options with { MaxConnections = 3 })));

        Assert.IsType<Queued>(StepAt(steps, 2).Decision);
        Assert.Equal([2L, 3L], StepAt(steps, 4).FromQueue.Select(placed => placed.ConnectionId));
        Assert.Equal(3, StepAt(steps, 4).State.Backends[0].ActiveConnections);
    }

    [Fact]
    public void PerClientLimit_TurnedOffLive_ConnectionsCountedBeforeGiveTheirSlotsBack()
    {
        var options = Options(A) with { Clients = new ClientOptions { MaxConnections = 1 } };
        var steps = Run(
            options,
            OnNext(Seconds(1), Arrive(1, s_client)),
            OnNext(Seconds(2), Arrive(2, s_client)),
            OnNext(Seconds(3), Reconfigure(options with { Clients = new ClientOptions() })),
            OnNext(Seconds(4), Arrive(3, s_client)),
            OnNext(Seconds(5), Release(1)),
            OnNext(Seconds(6), Reconfigure(options)),
            OnNext(Seconds(7), Arrive(4, s_client)),
            OnNext(Seconds(8), Arrive(5, s_client)));

        Assert.Equal(RejectionReason.ClientConnectionLimit, Assert.IsType<Rejection>(StepAt(steps, 2).Decision).Reason);
        Assert.IsType<Assignment>(StepAt(steps, 4).Decision);
        Assert.Empty(StepAt(steps, 5).State.Clients);
        // With the limit back, the client's count starts from what it holds since (nothing counted): one more, then full.
        Assert.IsType<Assignment>(StepAt(steps, 7).Decision);
        Assert.Equal(RejectionReason.ClientConnectionLimit, Assert.IsType<Rejection>(StepAt(steps, 8).Decision).Reason);
    }

    [Fact]
    public void OutlierDetection_ChangedLive_EjectsByTheNewThreshold()
    {
        var options = Options(A, B);
        var steps = Run(
            options,
            OnNext(Seconds(1), Reconfigure(options with { OutlierDetection = new OutlierDetectionOptions { ConsecutiveFailures = 1 } })),
            OnNext(Seconds(2), Arrive(1)),
            OnNext(Seconds(3), new ConnectFailed(1)));

        Assert.Contains(StepAt(steps, 3).Changes, change => change is Ejection { Backend.Address: A });
    }

    [Fact]
    public void Members_TakeTheirLimitPoolRiseAndFall_AndOnesWhoseChecksAreOffAreHealthyAgain()
    {
        var options = Options(A, B) with { HealthCheck = new HealthCheckOptions() };
        var steps = Run(
            options,
            OnNext(Seconds(1), new HealthProbed(A, Healthy: false)),
            OnNext(Seconds(2), new HealthProbed(A, Healthy: false)),
            OnNext(Seconds(3), new HealthProbed(A, Healthy: false)),
            OnNext(Seconds(4), Reconfigure(options with
            {
                Backends = [new BackendOptions(A) { HealthCheck = Balancers.NoHealthChecks }, new BackendOptions(B) { MaxConnections = 7, Pool = "api" }],
                HealthCheck = new HealthCheckOptions { Rise = 4, Fall = 5 },
                Sni = new SniRoutingOptions { Routes = [new SniRoute("api.example.com", "api")] },
            })));

        Assert.False(StepAt(steps, 3).State.Backends[0].Healthy);
        var reconfigured = StepAt(steps, 4);
        Assert.True(reconfigured.State.Backends[0].Healthy);
        Assert.Equal(A, Assert.IsType<HealthChange>(Assert.Single(reconfigured.Changes)).Backend.Address);
        var b = reconfigured.State.Backends[1];
        Assert.Equal((7, "api", 4, 5), (b.MaxConnections, b.Pool, b.Rise, b.Fall));
        Assert.Equal(0, reconfigured.State.MembershipVersion);
    }

    [Fact]
    public void Projection_ReconfiguredStep_PublishesConfigurationChanged_AtItsTime()
    {
        var options = Options(A);
        var at = new DateTimeOffset(Seconds(2), TimeSpan.Zero);
        var steps = Run(options, OnNext(Seconds(2), Reconfigure(options with { PanicMode = true }, applied: ["PanicMode"], restart: ["Listen"]) with { Time = at }));

        var published = Assert.IsType<ConfigurationChanged>(Assert.Single(EventProjection.Project(StepAt(steps, 2))));

        Assert.Equal(["PanicMode"], published.Applied);
        Assert.Equal(["Listen"], published.RestartNeeded);
        Assert.Equal(at, published.Timestamp);
    }

    [Fact]
    public void PolicyAfter_Reconfigured_TakesTheNewRules_KeepingItsStrategyAndRandomSource_OtherInputsKeepThePolicy()
    {
        var options = Options(A, B);
        var policy = FoldPolicy.From(options, new LeastConnectionsStrategy());

        var after = policy.After(Reconfigure(options with { MaxConnectAttempts = 1, PanicMode = true, Strategy = LoadBalancingStrategies.Random }));

        Assert.Same(policy, policy.After(Arrive(1)));
        Assert.Equal((1, true), (after.MaxConnectAttempts, after.PanicMode));
        Assert.Same(policy.Strategy, after.Strategy);
        Assert.Same(policy.Random, after.Random);
    }

    private static Reconfigured Reconfigure(LoadBalancerOptions options, string[]? applied = null, string[]? restart = null) =>
        new(options, new ConfigurationChanged(applied ?? [], restart ?? []));

    private static LoadBalancerOptions Options(params string[] backends) =>
        new() { Backends = [.. backends.Select(address => new BackendOptions(address))], HealthCheck = Balancers.NoHealthChecks };

    // The fold over a hot timeline, by the rules of options, every step with the second it was made at.
    private static List<(double Second, Step Step)> Run(LoadBalancerOptions options, params Recorded<Notification<BalancerInput>>[] timeline)
    {
        var scheduler = new TestScheduler();
        var inputs = scheduler.CreateHotObservable(timeline);
        return scheduler.StartFold(() => BalancerPipeline.Run(
            inputs, BalancerState.Create(options.Backends, options.HealthCheck), FoldPolicy.From(options, new LeastConnectionsStrategy()))).Values();
    }

    private static Step StepAt(List<(double Second, Step Step)> steps, double second) => steps.Single(s => s.Second == second).Step;
}
