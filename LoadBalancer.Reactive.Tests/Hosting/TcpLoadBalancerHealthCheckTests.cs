using System.Net;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Diagnostics;
using LoadBalancer.Reactive.Hosting;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LoadBalancer.Reactive.Tests.Hosting;

/// <summary>The balancer's own health: the verdict for each moment, then a real balancer's start and stop.</summary>
public class TcpLoadBalancerHealthCheckTests
{
    private static readonly IPEndPoint[] s_listening = [new(IPAddress.Loopback, 8000)];

    [Theory]
    [InlineData("up up up", false, HealthStatus.Healthy, "3 of 3 backends are in service.")]
    [InlineData("up down ejected", false, HealthStatus.Degraded, "1 of 3 backends are in service.")]
    [InlineData("up draining weight0", false, HealthStatus.Healthy, "1 of 1 backends are in service.")]
    [InlineData("down ejected", true, HealthStatus.Degraded, "No backend is in service; panic mode spreads connections over all 2 weighted backends.")]
    [InlineData("down ejected", false, HealthStatus.Unhealthy, "No backend is in service: every connection is rejected.")]
    [InlineData("down draining", true, HealthStatus.Degraded, "No backend is in service; panic mode spreads connections over all 1 weighted backends.")]
    [InlineData("draining weight0", true, HealthStatus.Unhealthy, "No backend is in service: every connection is rejected.")]
    [InlineData("", false, HealthStatus.Unhealthy, "No backend is in service: every connection is rejected.")]
    public void Evaluate_Listening_IsHealthyDegradedOrUnhealthyByTheBackendsInService(string backends, bool panicMode, HealthStatus status, string description)
    {
        var result = TcpLoadBalancerHealthCheck.Evaluate(BalancerLifecycle.Listening, Snapshot(backends), panicMode, s_listening, HealthStatus.Unhealthy);

        Assert.Equal((status, description), (result.Status, result.Description));
    }

    [Theory]
    [InlineData(nameof(BalancerLifecycle.NotStarted), "The balancer has not started.")]
    [InlineData(nameof(BalancerLifecycle.Stopping), "The balancer is stopping.")]
    [InlineData(nameof(BalancerLifecycle.Stopped), "The balancer has stopped.")]
    public void Evaluate_NotListening_IsTheFailureStatusWhateverTheBackends(string state, string description)
    {
        var lifecycle = Enum.Parse<BalancerLifecycle>(state);
        Assert.Equal(
            (HealthStatus.Unhealthy, description),
            Verdict(TcpLoadBalancerHealthCheck.Evaluate(lifecycle, Snapshot("up up"), panicMode: true, [], HealthStatus.Unhealthy)));
        Assert.Equal(
            HealthStatus.Degraded,
            TcpLoadBalancerHealthCheck.Evaluate(lifecycle, Snapshot("up up"), panicMode: true, [], HealthStatus.Degraded).Status);
    }

    [Fact]
    public void Evaluate_Data_NamesTheListenersBackendsAndActiveConnections()
    {
        var snapshot = new BalancerSnapshot([new("10.0.0.1:80", 1, ActiveConnections: 4, 9), new("10.0.0.2:80", 1, ActiveConnections: 3, 5) { Healthy = false }]);

        var data = TcpLoadBalancerHealthCheck.Evaluate(BalancerLifecycle.Listening, snapshot, panicMode: false, s_listening, HealthStatus.Unhealthy).Data;

        Assert.Equal("Listening", data["lifecycle"]);
        Assert.Equal(["127.0.0.1:8000"], (string[])data["listen"]);
        Assert.Equal((2, 1, 7), ((int)data["backends"], (int)data["backendsInService"], (int)data["activeConnections"]));
    }

    [Fact]
    [Trait(TestCategories.Name, TestCategories.Loopback)]
    public async Task CheckHealthAsync_RealBalancer_IsUnhealthyBeforeTheStart_HealthyWhileListening_UnhealthyOnceStopped()
    {
        await using var backend = LoopbackServer.Holding();
        var balancer = new TcpLoadBalancer(new LoadBalancerOptions
        {
            Listen = ["127.0.0.1:0"],
            Backends = [new BackendOptions(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
        });
        var check = new TcpLoadBalancerHealthCheck(balancer);
        var context = new HealthCheckContext { Registration = new HealthCheckRegistration("tcp-load-balancer", check, failureStatus: null, tags: null) };

        Assert.Equal(HealthStatus.Unhealthy, (await check.CheckHealthAsync(context).WaitAsync(Loopback.Timeout)).Status);

        await balancer.StartAsync().WaitAsync(Loopback.Timeout);
        var listening = await check.CheckHealthAsync(context).WaitAsync(Loopback.Timeout);
        Assert.Equal((HealthStatus.Healthy, "1 of 1 backends are in service."), Verdict(listening));
        Assert.Equal([balancer.ListenEndPoints[0].ToString()], (string[])listening.Data["listen"]);

        await balancer.StopAsync().WaitAsync(Loopback.Timeout);
        Assert.Equal((HealthStatus.Unhealthy, "The balancer has stopped."), Verdict(await check.CheckHealthAsync(context).WaitAsync(Loopback.Timeout)));
    }

    private static (HealthStatus, string?) Verdict(HealthCheckResult result) => (result.Status, result.Description);

    // One backend per word: up, down (failed its probes), ejected, draining or weight0.
    private static BalancerSnapshot Snapshot(string backends) => new([.. backends
        .Split(' ', StringSplitOptions.RemoveEmptyEntries)
        .Select((state, i) => new BackendSnapshot($"10.0.0.{i + 1}:80", state == "weight0" ? 0 : 1, 0, 0)
        {
            Healthy = state != "down",
            Ejected = state == "ejected",
            Draining = state == "draining",
        })]);
}
