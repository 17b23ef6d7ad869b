using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Hosting;
using LoadBalancer.Reactive.Tests.Fleet;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LoadBalancer.Reactive.Tests.Hosting;

/// <summary>A hosted balancer in a fleet (<c>AddTcpLoadBalancerFleet</c>) against a real etcd.</summary>
[Trait(TestCategories.Name, TestCategories.Process)]
public sealed class HostedFleetTests
{
    [Fact]
    public async Task HostedBalancer_JoinsWhenTheHostStarts_FollowsTheFleet_AndLeavesWhenItStops()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        await FleetHarness.PutBackendAsync(etcd, a.Address);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LoadBalancer:Name"] = "hosted-1",
            ["LoadBalancer:Listen:0"] = "127.0.0.1:0",
            ["LoadBalancer:Backends:0"] = b.Address,
            ["LoadBalancer:HealthCheck:Enabled"] = "false",
            ["Etcd:Endpoints"] = etcd.Url,
            ["Etcd:Prefix"] = FleetHarness.Prefix,
        });
        builder.Services.AddTcpLoadBalancer(builder.Configuration.GetSection("LoadBalancer"));
        builder.Services.AddTcpLoadBalancerFleet(builder.Configuration.GetSection("Etcd"));
        using var host = builder.Build();

        await host.StartAsync().WaitAsync(Loopback.Timeout);
        var balancer = host.Services.GetRequiredService<TcpLoadBalancer>();
        var hosted = host.Services.GetRequiredService<HostedFleet>();
        await Loopback.WaitUntilAsync(() => balancer.Snapshot.Backends.Select(backend => backend.Address).SequenceEqual([a.Address]), "the fleet's backends replace the configured one");
        var instances = await hosted.CreateRuntimeApi().ExecuteAsync("show instances").WaitAsync(Loopback.Timeout);
        await hosted.CreateRuntimeApi().ExecuteAsync($"set weight {a.Address} 7").WaitAsync(Loopback.Timeout);
        await Loopback.WaitUntilAsync(() => balancer.Snapshot.Backends[0].Weight == 7, "the weight written to etcd comes back through the watch");

        await host.StopAsync().WaitAsync(Loopback.Timeout);

        Assert.Equal("hosted-1", hosted.Options.Name);
        Assert.Contains("1 live instance(s); this one is hosted-1", instances.Text, StringComparison.Ordinal);
        Assert.Contains("\"weight\":7", await etcd.GetAsync($"{FleetHarness.Prefix}/backends/{a.Address}"), StringComparison.Ordinal);
        Assert.Equal(string.Empty, await etcd.GetAsync($"{FleetHarness.Prefix}/instances/hosted-1"));
        Assert.Throws<InvalidOperationException>(() => hosted.Fleet);
    }

    [Fact]
    public void ReadFleet_ReportsEveryProblemNamingItsKey()
    {
        var section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Etcd:Endpoints:0"] = "127.0.0.1:2379",
            ["Etcd:LeaseTtl"] = "1s",
            ["Etcd:Prefx"] = "/lb",
        }).Build().GetSection("Etcd");

        var refused = Assert.Throws<LoadBalancerOptionsException>(() => LoadBalancerConfiguration.ReadFleet(section));

        Assert.Equal(
            [
                "Etcd:Prefx is not a setting; the fleet settings are Endpoints, Prefix, Name, LeaseTtl.",
                "Etcd: etcd endpoint '127.0.0.1:2379' must be an absolute http:// or https:// URL.",
            ],
            refused.Errors);
        Assert.Equal(
            "Etcd:Endpoints must list at least one etcd URL, such as http://127.0.0.1:2379.",
            Assert.Single(Assert.Throws<LoadBalancerOptionsException>(
                () => LoadBalancerConfiguration.ReadFleet(new ConfigurationBuilder().Build().GetSection("Etcd"))).Errors));
    }

    [Fact]
    public void ReadFleet_TakesAListOrACommaSeparatedString_AndTheBalancersNameUnlessItGivesOne()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["One:Endpoints"] = "http://10.0.0.9:2379, http://10.0.0.10:2379",
            ["One:LeaseTtl"] = "30s",
            ["Two:Endpoints:0"] = "http://10.0.0.9:2379",
            ["Two:Name"] = "lb-7",
            ["Two:Prefix"] = "/lb/db",
        }).Build();

        var one = LoadBalancerConfiguration.ReadFleet(configuration.GetSection("One"), name: "edge-1");
        var two = LoadBalancerConfiguration.ReadFleet(configuration.GetSection("Two"), name: "edge-1");

        Assert.Equal(("http://10.0.0.9:2379 http://10.0.0.10:2379", "/loadbalancer", "edge-1", TimeSpan.FromSeconds(30)), (string.Join(' ', one.Endpoints), one.Prefix, one.Name, one.LeaseTtl));
        Assert.Equal(("http://10.0.0.9:2379", "/lb/db", "lb-7"), (string.Join(' ', two.Endpoints), two.Prefix, two.Name));
    }
}
