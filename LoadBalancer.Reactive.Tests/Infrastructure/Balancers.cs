using System.Reactive.Concurrency;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Tests.Infrastructure;

/// <summary>
/// Starts balancers on 127.0.0.1 and a free port over test backends. Active health checks are off unless
/// a test turns them on, so a backend counts only the connections the test made.
/// </summary>
public static class Balancers
{
    public static readonly HealthCheckOptions NoHealthChecks = new() { Enabled = false };

    public static Task<TcpLoadBalancer> StartAsync(params LoopbackServer[] backends) =>
        StartAsync(new LoadBalancerOptions
        {
            Backends = [.. backends.Select(backend => new BackendOptions(backend.Address))],
            HealthCheck = NoHealthChecks,
        });

    /// <summary>Starts a balancer with these options on 127.0.0.1 and a free port; on virtual time when given a scheduler.</summary>
    public static async Task<TcpLoadBalancer> StartAsync(LoadBalancerOptions options, IScheduler? scheduler = null)
    {
        var balancer = new TcpLoadBalancer(options with { Listen = ["127.0.0.1:0"] }, scheduler);
        await balancer.StartAsync().WaitAsync(Loopback.Timeout);
        return balancer;
    }
}
