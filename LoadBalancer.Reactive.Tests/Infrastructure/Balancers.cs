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

    public static async Task<TcpLoadBalancer> StartAsync(LoadBalancerOptions options)
    {
        var balancer = new TcpLoadBalancer(options with { Listen = ["127.0.0.1:0"] });
        await balancer.StartAsync().WaitAsync(Loopback.Timeout);
        return balancer;
    }
}
