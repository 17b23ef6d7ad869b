using System.Reactive;
using System.Reactive.Linq;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Testing;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;
using static LoadBalancer.Reactive.Tests.Infrastructure.VirtualTime;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Slow start in the fold, in virtual time.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class SlowStartFoldTests
{
    private const string A = "10.0.0.1:80";
    private const string B = "10.0.0.2:80";
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(10);

    [Fact]
    public void JoiningBackend_RampsATenthEveryTenthOfTheWindow_AtExactTicks()
    {
        var steps = Run(Options(LoadBalancingStrategies.LeastConnections, A), OnNext(Seconds(5), new AddBackend(new BackendOptions(B))));

        var ramp = Ramp(steps, B);
        Assert.Equal([.. Enumerable.Range(0, 10).Select(i => (5.0 + i, 10 * (i + 1)))], ramp.Select(r => (r.Second, r.Percent)));
        Assert.Null(steps.SelectMany(s => s.Step.Changes).OfType<SlowStartStep>().Last().NextStepIn);
    }

    [Fact]
    public void HealthComingBack_AndAnEjectionEnding_StartARamp()
    {
        var steps = Run(
            Options(LoadBalancingStrategies.LeastConnections, A, B) with { HealthCheck = new HealthCheckOptions { Fall = 1, Rise = 1 } },
            OnNext(Seconds(1), new HealthProbed(B, false)),
            OnNext(Seconds(2), new HealthProbed(B, true)));

        Assert.Equal((2.0, 10), Ramp(steps, B).First());
    }

    [Fact]
    public void WeightedRoundRobin_ANewcomersShareGrowsToEven()
    {
        var steps = Run(
            Options(LoadBalancingStrategies.WeightedRoundRobin, A),
            [
                OnNext(Seconds(0.05), new AddBackend(new BackendOptions(B))),
                .. Enumerable.Range(1, 400).SelectMany(id => new[] { OnNext(Seconds(id * 0.05), Arrive(id)), OnNext(Seconds((id * 0.05) + 0.01), Release(id)) }),
            ]);

        int ToB(double from, double to) => steps.Count(s => s.Second >= from && s.Second < to && s.Step.Decision is Assignment { Backend.Address: B });
        Assert.InRange(ToB(0, 1), 1, 3);        // 20 connections at 10%: about 1 in 11
        Assert.Equal(10, ToB(15, 16));           // ramped: exactly half of 20
    }

    [Fact]
    public void LeastConnections_GivesARampingBackendLessThanItWouldAtFullCapacity()
    {
        static int HeldOnB(TimeSpan slowStart)
        {
            var events = new List<BalancerInput>();
            events.AddRange(Enumerable.Range(1, 10).Select(id => (BalancerInput)Arrive(id)));
            events.Add(new AddBackend(new BackendOptions(B)));
            events.AddRange(Enumerable.Range(11, 20).Select(id => (BalancerInput)Arrive(id)));
            var options = new LoadBalancerOptions { Backends = [new(A)], SlowStart = slowStart, HealthCheck = Balancers.NoHealthChecks };
            var last = BalancingFold.Run(events.ToObservable(), options).ToEnumerable().Last();
            return last.Snapshot.Backends[1].ActiveConnections;
        }

        // Without slow start the newcomer levels the load at once (15 and 15); ramping, it takes far less.
        Assert.Equal(15, HeldOnB(TimeSpan.Zero));
        Assert.InRange(HeldOnB(s_window), 1, 5);
    }

    private static LoadBalancerOptions Options(string strategy, params string[] backends) => new()
    {
        Backends = [.. backends.Select(address => new BackendOptions(address))],
        Strategy = strategy,
        SlowStart = s_window,
        HealthCheck = Balancers.NoHealthChecks,
    };

    // The fold over a hot timeline on a scheduler of its own, which times the ramp's steps; every step, with its second.
    private static List<(double Second, BalancingStep Step)> Run(LoadBalancerOptions options, params Recorded<Notification<BalancerInput>>[] timeline)
    {
        var scheduler = new TestScheduler();
        var events = scheduler.CreateHotObservable(timeline);
        return scheduler.StartFold(() => BalancingFold.Run(events, options, scheduler)).Values();
    }

    private static List<(double Second, int Percent)> Ramp(List<(double Second, BalancingStep Step)> steps, string backend) =>
        [.. steps.SelectMany(s => s.Step.Changes.OfType<SlowStartStep>().Where(r => r.Backend.Address == backend)
            .Select(r => (Math.Round(s.Second, 3), r.Backend.SlowStartPercent)))];
}
