using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Tests.Infrastructure;

/// <summary>Starts balancers on 127.0.0.1 and a free port over test backends.</summary>
public static class Balancers
{
    public static Task<TcpLoadBalancer> StartAsync(params LoopbackServer[] backends) =>
        StartAsync(new LoadBalancerOptions { Backends = [.. backends.Select(backend => new BackendOptions(backend.Address))] });

    public static async Task<TcpLoadBalancer> StartAsync(LoadBalancerOptions options)
    {
        var balancer = new TcpLoadBalancer(options with { Listen = ["127.0.0.1:0"] });
        await balancer.StartAsync().WaitAsync(Loopback.Timeout);
        return balancer;
    }
}
