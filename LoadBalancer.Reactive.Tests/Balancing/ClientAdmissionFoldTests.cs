using System.Net;
using System.Reactive;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Testing;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;
using static LoadBalancer.Reactive.Tests.Infrastructure.VirtualTime;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Access rules and per-client limits in the fold, as timelines in virtual time.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class ClientAdmissionFoldTests
{
    private const string A = "10.0.0.1:80";

    [Theory]
    [InlineData("10.1.2.3", null)]
    [InlineData("::ffff:10.1.2.3", null)]
    [InlineData("10.9.1.1", RejectionReason.Denied)]
    [InlineData("192.168.1.1", RejectionReason.Denied)]
    [InlineData("2001:db8::1", null)]
    [InlineData("2001:db9::1", RejectionReason.Denied)]
    public void AccessRules_DenyWinsOverAllow_AndOnlyAllowedNetworksGetIn(string client, RejectionReason? expected)
    {
        var steps = Run(
            Options(new ClientOptions { Allow = ["10.0.0.0/8", "2001:db8::/32"], Deny = ["10.9.0.0/16"] }),
            OnNext(Seconds(1), Arrive(1, From(client))));

        Assert.Equal(expected, (StepAt(steps, 1).Decision as Rejection)?.Reason);
        Assert.Equal(expected is null ? 1 : 0, StepAt(steps, 1).Snapshot.TotalConnections);
    }

    [Theory]
    [InlineData("10.1.2.3", "0.0.0.0:9000", null)]
    [InlineData("192.168.1.1", "0.0.0.0:9000", null)]
    [InlineData("10.9.1.1", "0.0.0.0:9000", RejectionReason.Denied)]
    [InlineData("10.1.2.3", "0.0.0.0:9443", null)]
    [InlineData("10.2.2.3", "0.0.0.0:9443", RejectionReason.Denied)]
    [InlineData("10.1.9.9", "0.0.0.0:9443", RejectionReason.Denied)]
    [InlineData("10.9.1.1", "0.0.0.0:9443", RejectionReason.Denied)]
    [InlineData("10.2.2.3", null, null)]
    public void ListenerRules_ApplyOnTopOfTheBalancersRules_OnlyOnTheirListener(string client, string? listener, RejectionReason? expected)
    {
        var steps = Run(
            Options(new ClientOptions
            {
                Deny = ["10.9.0.0/16"],
                Listeners = [new ListenerAccess { Listen = "0.0.0.0:9443", Allow = ["10.1.0.0/16"], Deny = ["10.1.9.0/24"] }],
            }),
            OnNext(Seconds(1), Arrive(1, From(client)) with { Listener = listener }));

        Assert.Equal(expected, (StepAt(steps, 1).Decision as Rejection)?.Reason);
    }

    [Fact]
    public void AccessRules_AClientOfUnknownAddress_IsLetInOnlyWithoutAnAllowList()
    {
        var steps = Run(Options(new ClientOptions { Deny = ["10.0.0.0/8"] }), OnNext(Seconds(1), Arrive(1)));

        Assert.IsType<Assignment>(StepAt(steps, 1).Decision);
        var denied = Reduce(Options(new ClientOptions { Allow = ["10.0.0.0/8"] }), Arrive(1));
        Assert.Equal(RejectionReason.Denied, Assert.IsType<Rejection>(denied.Decision).Reason);
    }

    [Fact]
    public void MaxConnectionsPerClient_RefusesTheOneTooMany_AndAReleaseGivesTheSlotBack()
    {
        var steps = Run(
            Options(new ClientOptions { MaxConnections = 2 }),
            OnNext(Seconds(1), Arrive(1, From("192.0.2.1"))),
            OnNext(Seconds(2), Arrive(2, From("192.0.2.1"))),
            OnNext(Seconds(3), Arrive(3, From("192.0.2.1"))),
            OnNext(Seconds(4), Arrive(4, From("192.0.2.2"))),
            OnNext(Seconds(5), Release(1)),
            OnNext(Seconds(6), Arrive(5, From("192.0.2.1"))));

        Assert.IsType<Assignment>(StepAt(steps, 2).Decision);
        Assert.Equal(RejectionReason.ClientConnectionLimit, Assert.IsType<Rejection>(StepAt(steps, 3).Decision).Reason);
        Assert.IsType<Assignment>(StepAt(steps, 4).Decision);
        Assert.IsType<Assignment>(StepAt(steps, 6).Decision);
    }

    [Fact]
    public void MaxConnectionsPerClient_QueuedConnectionsCount_AndATimedOutOneGivesItsSlotBack()
    {
        var steps = Run(
            Options(new ClientOptions { MaxConnections = 2 }) with { MaxConnections = 1, MaxQueueLength = 5, QueueTimeout = TimeSpan.FromSeconds(2) },
            OnNext(Seconds(1), Arrive(1, From("192.0.2.1"))),
            OnNext(Seconds(2), Arrive(2, From("192.0.2.1"))),
            OnNext(Seconds(3), Arrive(3, From("192.0.2.1"))),
            OnNext(Seconds(5), Arrive(4, From("192.0.2.1"))));

        Assert.IsType<Queued>(StepAt(steps, 2).Decision);
        Assert.Equal(RejectionReason.ClientConnectionLimit, Assert.IsType<Rejection>(StepAt(steps, 3).Decision).Reason);
        Assert.Equal(RejectionReason.QueueTimeout, Assert.IsType<Rejection>(StepAt(steps, 4).Decision).Reason);
        Assert.IsType<Queued>(StepAt(steps, 5).Decision);
    }

    [Fact]
    public void MaxConnectionRatePerClient_SlidesOverTheWindow_AndHammeringKeepsCounting()
    {
        double[] seconds = [10.0, 10.1, 10.2, 10.3, 11.5, 11.6, 11.7, 13.5];
        var steps = Run(
            Options(new ClientOptions { MaxConnectionRate = 3, ConnectionRateInterval = TimeSpan.FromSeconds(1) }),
            [
                .. seconds.Select((second, i) => OnNext(Seconds(second), Arrive(i + 1, From("192.0.2.1")))),
                OnNext(Seconds(10.35), Arrive(seconds.Length + 1, From("192.0.2.2"))),
            ]);

        string Outcome(double second) => StepAt(steps, second).Decision is Rejection rejection ? rejection.Reason.ToString() : "in";
        // Four tries in the first window (the refused one counts too); half a window later half of them still
        // weigh (2, so one more gets in: 2.6), then 3.2 is over the limit; two quiet windows forget it all.
        Assert.Equal(
            ["in", "in", "in", "ClientRateLimit", "in", "in", "ClientRateLimit", "in"],
            seconds.Select(Outcome));
        Assert.Equal("in", Outcome(10.35));
    }

    [Fact]
    public void PerClientCounts_NeverDrift_OverARandomTimelineOfArrivalsReleasesFailuresAndFlappingHealth()
    {
        var options = Options(new ClientOptions { MaxConnections = 3, MaxConnectionRate = 50 }) with
        {
            Backends = [new BackendOptions(A), new BackendOptions("10.0.0.2:80")],
            MaxConnections = 8,
            MaxQueueLength = 4,
            HealthCheck = new HealthCheckOptions { Fall = 1, Rise = 1 },
        };
        var policy = FoldPolicy.From(options, new LeastConnectionsStrategy());
        var state = BalancerState.Create(options.Backends, options.HealthCheck);
        var random = new Random(7);
        var open = new List<long>();
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 1; i <= 5000; i++)
        {
            BalancerInput @event = random.Next(10) switch
            {
                < 5 => new ConnectionArrived(i, From($"192.0.2.{random.Next(5)}")) { Time = start.AddMilliseconds(i * 10) },
                < 8 when open.Count > 0 => new ConnectionEnded(open[random.Next(open.Count)]),
                8 when open.Count > 0 => new ConnectFailed(open[random.Next(open.Count)]),
                9 => new HealthProbed(random.Next(2) == 0 ? A : "10.0.0.2:80", random.Next(3) > 0),
                _ => new QueueTimedOut(random.Next(1, i)),
            };
            state = BalancerReducer.Reduce(state, @event, policy).State;
            open = [.. state.Connections.Keys, .. state.Queue.Select(waiter => waiter.ConnectionId)];

            Assert.Equal(open.Order(), state.ClientOf.Keys.Order());
            Assert.All(state.Clients, client => Assert.Equal(state.ClientOf.Values.Count(a => a.Equals(client.Key)), client.Value.Active));
            Assert.All(state.Clients.Values, tally => Assert.InRange(tally.Active, 0, 3));
        }
    }

    private static IPEndPoint From(string address) => new(IPAddress.Parse(address), 40000);

    private static LoadBalancerOptions Options(ClientOptions clients) =>
        new() { Backends = [new BackendOptions(A)], HealthCheck = Balancers.NoHealthChecks, Clients = clients };

    private static Step Reduce(LoadBalancerOptions options, BalancerInput @event) => BalancerReducer.Reduce(
        BalancerState.Create(options.Backends), @event, FoldPolicy.From(options, new LeastConnectionsStrategy()));

    // The fold over a hot timeline on a scheduler of its own, which stamps arrivals (for rates) and times the
    // queue's timeouts; every step, with the second it was made at.
    private static List<(double Second, BalancingStep Step)> Run(LoadBalancerOptions options, params Recorded<Notification<BalancerInput>>[] timeline)
    {
        var scheduler = new TestScheduler();
        var events = scheduler.CreateHotObservable(timeline);
        return scheduler.StartFold(() => BalancingFold.Run(events, options, scheduler)).Values();
    }

    private static BalancingStep StepAt(List<(double Second, BalancingStep Step)> steps, double second) => steps.Single(s => Math.Abs(s.Second - second) < 1e-9).Step;
}
