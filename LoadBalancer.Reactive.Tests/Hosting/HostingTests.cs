using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Hosting;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace LoadBalancer.Reactive.Tests.Hosting;

/// <summary>The balancer in a real Generic Host, configured the way an app configures it.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public class HostingTests
{
    [Fact]
    public void Read_Configuration_ReadsDurationsLike2sAndDotNetTimeSpans()
    {
        var options = LoadBalancerConfiguration.Read(Section(new()
        {
            ["LoadBalancer:Listen:0"] = "127.0.0.1:0",
            ["LoadBalancer:Backends:0:Address"] = "10.0.0.1:80",
            ["LoadBalancer:Backends:0:Weight"] = "3",
            ["LoadBalancer:Backends:1"] = "10.0.0.2:80",
            ["LoadBalancer:ConnectTimeout"] = "750ms",
            ["LoadBalancer:IdleTimeout"] = "00:30:00",
            ["LoadBalancer:HealthCheck:Interval"] = "500ms",
            ["LoadBalancer:HealthCheck:Fall"] = "4",
            ["LoadBalancer:OutlierDetection:BaseEjectionTime"] = "10s",
            ["LoadBalancer:MaxConnections"] = "100",
            ["LoadBalancer:Clients:Allow:0"] = "10.0.0.0/8",
            ["LoadBalancer:Clients:Deny:0"] = "10.9.0.0/16",
            ["LoadBalancer:Clients:Listeners:0:Listen"] = "127.0.0.1:0",
            ["LoadBalancer:Clients:Listeners:0:Allow:0"] = "10.1.0.0/16",
            ["LoadBalancer:Clients:Listeners:0:Deny:0"] = "10.1.9.0/24",
            ["LoadBalancer:Clients:MaxConnections"] = "20",
            ["LoadBalancer:Clients:MaxConnectionRate"] = "50",
            ["LoadBalancer:Clients:ConnectionRateInterval"] = "10s",
            ["LoadBalancer:Backends:0:SendProxy"] = "v2",
            ["LoadBalancer:Backends:0:Pool"] = "api",
            ["LoadBalancer:Sni:Routes:0:ServerName"] = "api.example.com",
            ["LoadBalancer:Sni:Routes:0:Pool"] = "api",
            ["LoadBalancer:AcceptProxy:From:0"] = "10.1.0.0/16",
            ["LoadBalancer:AcceptProxy:HeaderTimeout"] = "2s",
        }));

        Assert.Equal([("10.0.0.1:80", 3), ("10.0.0.2:80", 1)], options.Backends.Select(b => (b.Address, b.Weight)));
        Assert.Equal((TimeSpan.FromMilliseconds(750), TimeSpan.FromMinutes(30)), (options.ConnectTimeout, options.IdleTimeout));
        Assert.Equal((TimeSpan.FromMilliseconds(500), 4), (options.HealthCheck.Interval, options.HealthCheck.Fall));
        Assert.Equal((TimeSpan.FromSeconds(10), 100), (options.OutlierDetection.BaseEjectionTime, options.MaxConnections));
        Assert.Equal((ProxyProtocolVersion.V2, ProxyProtocolVersion.None), (options.Backends[0].SendProxy, options.Backends[1].SendProxy));
        Assert.Equal(["10.1.0.0/16"], options.AcceptProxy.From);
        Assert.Equal([new SniRoute("api.example.com", "api")], options.Sni.Routes);
        Assert.Equal("api", options.Backends[0].Pool);
        Assert.Equal(TimeSpan.FromSeconds(2), options.AcceptProxy.HeaderTimeout);
        Assert.Equal(["10.0.0.0/8"], options.Clients.Allow);
        Assert.Equal(["10.9.0.0/16"], options.Clients.Deny);
        var listener = Assert.Single(options.Clients.Listeners);
        Assert.Equal("127.0.0.1:0", listener.Listen);
        Assert.Equal(["10.1.0.0/16"], listener.Allow);
        Assert.Equal(["10.1.9.0/24"], listener.Deny);
        Assert.Equal((20, 50, TimeSpan.FromSeconds(10)), (options.Clients.MaxConnections, options.Clients.MaxConnectionRate, options.Clients.ConnectionRateInterval));
    }

    [Fact]
    public void Read_Mistakes_NameTheirConfigurationPath()
    {
        var exception = Assert.Throws<LoadBalancerOptionsException>(() => LoadBalancerConfiguration.Read(Section(new()
        {
            ["LoadBalancer:Listen:0"] = "127.0.0.1:0",
            ["LoadBalancer:Backends:0"] = "10.0.0.1:80",
            ["LoadBalancer:HealthCheck:Interval"] = "2",
            ["LoadBalancer:MaxConnections"] = "lots",
        })));

        Assert.Equal(
            ["LoadBalancer:MaxConnections 'lots' is not a whole number.", "LoadBalancer:HealthCheck:Interval '2' has no unit; write it like 500ms, 2s, 1m or 1h."],
            exception.Errors.Order().Reverse());
    }

    [Fact]
    public async Task AddTcpLoadBalancer_StartsWithTheHost_IsInjectable_AndStopsWithIt()
    {
        await using var backend = LoopbackServer.Named();
        var builder = HostWithBalancerOver(backend);
        using var host = builder.Build();

        await host.StartAsync().WaitAsync(Loopback.Timeout);
        var balancer = host.Services.GetRequiredService<TcpLoadBalancer>();
        Assert.Equal(backend.Address, await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        await host.StopAsync().WaitAsync(Loopback.Timeout);

        await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(() => Loopback.ConnectAsync(balancer.ListenEndPoints[0]));
    }

    [Fact]
    public async Task AddHealthChecksAddTcpLoadBalancer_ReportsTheHostedBalancer_UnderItsNameAndTags()
    {
        await using var backend = LoopbackServer.Holding();
        var builder = HostWithBalancerOver(backend);
        builder.Services.AddHealthChecks().AddTcpLoadBalancer(tags: ["ready"]);
        using var host = builder.Build();
        var health = host.Services.GetRequiredService<HealthCheckService>();

        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync().WaitAsync(Loopback.Timeout)).Status);

        await host.StartAsync().WaitAsync(Loopback.Timeout);
        var report = await health.CheckHealthAsync(check => check.Tags.Contains("ready")).WaitAsync(Loopback.Timeout);
        var entry = Assert.Single(report.Entries);
        Assert.Equal(("tcp-load-balancer", HealthStatus.Healthy), (entry.Key, entry.Value.Status));
        Assert.Equal(1, entry.Value.Data["backendsInService"]);

        await host.StopAsync().WaitAsync(Loopback.Timeout);
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync().WaitAsync(Loopback.Timeout)).Status);
    }

    [Fact]
    public async Task AddTcpLoadBalancer_InvalidSettings_FailTheHostsStartWithEveryProblem()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LoadBalancer:Listen:0"] = "127.0.0.1:0",
            ["LoadBalancer:Backends:0"] = "10.0.0.1:99999",
            ["LoadBalancer:Strategy"] = "fastest",
        });
        builder.Services.AddTcpLoadBalancer(builder.Configuration.GetSection("LoadBalancer"));
        using var host = builder.Build();

        var exception = await Assert.ThrowsAsync<LoadBalancerOptionsException>(() => host.StartAsync().WaitAsync(Loopback.Timeout));

        Assert.Equal(2, exception.Errors.Count);
    }

    private static IConfigurationSection Section(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection("LoadBalancer");

    // A Generic Host with a balancer read from configuration: on 127.0.0.1 and a free port, over one backend, unprobed.
    private static HostApplicationBuilder HostWithBalancerOver(LoopbackServer backend)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LoadBalancer:Listen:0"] = "127.0.0.1:0",
            ["LoadBalancer:Backends:0"] = backend.Address,
            ["LoadBalancer:HealthCheck:Enabled"] = "false",
        });
        builder.Services.AddTcpLoadBalancer(builder.Configuration.GetSection("LoadBalancer"));
        return builder;
    }
}
