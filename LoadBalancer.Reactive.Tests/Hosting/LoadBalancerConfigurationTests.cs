using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Hosting;
using Microsoft.Extensions.Configuration;

namespace LoadBalancer.Reactive.Tests.Hosting;

/// <summary>The configuration reader's refusal of keys that are not settings, at every level.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class LoadBalancerConfigurationTests
{
    [Theory]
    [InlineData("LoadBalancer:ConnectAttempts", "3", "LoadBalancer:ConnectAttempts is not a setting; the balancer settings are Name,")]
    [InlineData("LoadBalancer:Backends:0:Wieght", "2", "LoadBalancer:Backends:0:Wieght is not a setting; the backend settings are Address,")]
    [InlineData("LoadBalancer:Backends:0:Tls:Verify", "false", "LoadBalancer:Backends:0:Tls:Verify is not a setting; the backend TLS settings are")]
    [InlineData("LoadBalancer:Backends:0:HealthCheck:Every", "2s", "LoadBalancer:Backends:0:HealthCheck:Every is not a setting; the health check settings are")]
    [InlineData("LoadBalancer:HealthCheck:Intervall", "2s", "LoadBalancer:HealthCheck:Intervall is not a setting; the health check settings are Enabled, Interval,")]
    [InlineData("LoadBalancer:OutlierDetection:Failures", "5", "LoadBalancer:OutlierDetection:Failures is not a setting; the outlier detection settings are")]
    [InlineData("LoadBalancer:Clients:MaxConn", "5", "LoadBalancer:Clients:MaxConn is not a setting; the client settings are")]
    [InlineData("LoadBalancer:Clients:Listeners:0:Port", "80", "LoadBalancer:Clients:Listeners:0:Port is not a setting; the listener settings are")]
    [InlineData("LoadBalancer:Tls:Certificate", "a.pem", "LoadBalancer:Tls:Certificate is not a setting; the TLS settings are")]
    [InlineData("LoadBalancer:Sni:Timeout", "1s", "LoadBalancer:Sni:Timeout is not a setting; the SNI settings are")]
    [InlineData("LoadBalancer:Sni:Routes:0:Name", "a", "LoadBalancer:Sni:Routes:0:Name is not a setting; the SNI route settings are")]
    [InlineData("LoadBalancer:AcceptProxy:Trusted:0", "10.0.0.0/8", "LoadBalancer:AcceptProxy:Trusted is not a setting; the PROXY header settings are")]
    public void Read_UnknownKey_IsAnErrorNamingItsPath(string key, string value, string expected)
    {
        var exception = Assert.Throws<LoadBalancerOptionsException>(() => LoadBalancerConfiguration.Read(Section(new()
        {
            ["LoadBalancer:Listen:0"] = "127.0.0.1:0",
            ["LoadBalancer:Backends:0:Address"] = "10.0.0.1:80",
            [key] = value,
        })));

        Assert.StartsWith(expected, Assert.Single(exception.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_KeysInAnyCase_AreTheSettings()
    {
        var options = LoadBalancerConfiguration.Read(Section(new()
        {
            ["LoadBalancer:listen:0"] = "127.0.0.1:0",
            ["LoadBalancer:backends:0:address"] = "10.0.0.1:80",
            ["LoadBalancer:backends:0:state"] = "draining",
            ["LoadBalancer:maxConnectAttempts"] = "2",
            ["LoadBalancer:healthCheck:enabled"] = "false",
        }));

        Assert.Equal((2, false, BackendState.Draining), (options.MaxConnectAttempts, options.HealthCheck.Enabled, options.Backends[0].State));
    }

    [Fact]
    public void Read_HostKeys_AreSkippedAtTheTopOnly()
    {
        var values = new Dictionary<string, string?>
        {
            ["LoadBalancer:Listen:0"] = "127.0.0.1:0",
            ["LoadBalancer:Backends:0"] = "10.0.0.1:80",
            ["LoadBalancer:DrainTimeout"] = "10s",
            ["LoadBalancer:Admin:Endpoint"] = "/run/lb.sock",
        };

        var options = LoadBalancerConfiguration.Read(Section(values), ["DrainTimeout", "admin"]);
        var exception = Assert.Throws<LoadBalancerOptionsException>(() => LoadBalancerConfiguration.Read(Section(new(values)
        {
            ["LoadBalancer:HealthCheck:DrainTimeout"] = "1s",
        }), ["DrainTimeout", "Admin"]));

        Assert.Equal("10.0.0.1:80", Assert.Single(options.Backends).Address);
        Assert.StartsWith("LoadBalancer:HealthCheck:DrainTimeout is not a setting; the health check settings", Assert.Single(exception.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_EveryUnknownKey_IsListed_BeforeValidation()
    {
        var exception = Assert.Throws<LoadBalancerOptionsException>(() => LoadBalancerConfiguration.Read(Section(new()
        {
            ["LoadBalancer:Listen:0"] = "127.0.0.1:0",
            ["LoadBalancer:Seed"] = "7",
            ["LoadBalancer:DnsRefresh"] = "10s",
        })));

        Assert.Equal(2, exception.Errors.Count);
        Assert.All(exception.Errors, error => Assert.Contains("is not a setting; the balancer settings are", error, StringComparison.Ordinal));
    }

    private static IConfigurationSection Section(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection("LoadBalancer");
}
