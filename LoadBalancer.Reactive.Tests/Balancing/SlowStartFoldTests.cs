using System.Reactive.Subjects;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Testing;
using LoadBalancer.Reactive.Tests.Infrastructure;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Slow start in the fold, in virtual time.</summary>
public class SlowStartFoldTests
{
    private const string A = "10.0.0.1:80";
    private const string B = "10.0.0.2:80";
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(10);

    private readonly TestScheduler _scheduler = new();
    private readonly Subject<BalancerInput> _events = new();
    private readonly List<(double Second, BalancingStep Step)> _steps = [];

    [Fact]
    public void JoiningBackend_RampsATenthEveryTenthOfTheWindow_AtExactTicks()
    {
        Run(Options(LoadBalancingStrategies.LeastConnections, A));
        At(5, new AddBackend(new BackendOptions(B)));
        _scheduler.Start();

        var ramp = Ramp(B);
        Assert.Equal([.. Enumerable.Range(0, 10).Select(i => (5.0 + i, 10 * (i + 1)))], ramp.Select(r => (r.Second, r.Percent)));
        Assert.Null(_steps.SelectMany(s => s.Step.Changes).OfType<SlowStartStep>().Last().NextStepIn);
    }

    [Fact]
    public void HealthComingBack_AndAnEjectionEnding_StartARamp()
    {
        Run(Options(LoadBalancingStrategies.LeastConnections, A, B) with { HealthCheck = new HealthCheckOptions { Fall = 1, Rise = 1 } });
        At(1, new HealthProbed(B, false));
        At(2, new HealthProbed(B, true));
        _scheduler.Start();

        Assert.Equal((2.0, 10), Ramp(B).First());
    }

    [Fact]
    public void WeightedRoundRobin_ANewcomersShareGrowsToEven()
    {
        Run(Options(LoadBalancingStrategies.WeightedRoundRobin, A));
        At(0.05, new AddBackend(new BackendOptions(B)));
        for (var i = 1; i <= 400; i++)
        {
            var id = i;
            At(id * 0.05, Arrive(id));
            At((id * 0.05) + 0.01, Release(id));
        }

        _scheduler.Start();

        int ToB(double from, double to) => _steps.Count(s => s.Second >= from && s.Second < to && s.Step.Decision is Assignment { Backend.Address: B });
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
            var last = System.Reactive.Linq.Observable.ToEnumerable(BalancingFold.Run(System.Reactive.Linq.Observable.ToObservable(events), options)).Last();
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

    private void Run(LoadBalancerOptions options) =>
        BalancingFold.Run(_events, options, _scheduler).Subscribe(step => _steps.Add((TimeSpan.FromTicks(_scheduler.Clock).TotalSeconds, step)));

    private void At(double second, BalancerInput @event) =>
        _scheduler.At((long)Math.Round(second * TimeSpan.TicksPerSecond), () => _events.OnNext(@event));

    private List<(double Second, int Percent)> Ramp(string backend) =>
        [.. _steps.SelectMany(s => s.Step.Changes.OfType<SlowStartStep>().Where(r => r.Backend.Address == backend)
            .Select(r => (Math.Round(s.Second, 3), r.Backend.SlowStartPercent)))];
}
