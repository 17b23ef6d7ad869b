using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Tests.Configuration;

/// <summary>Which settings a reconfiguration applies live and which need a restart, key by key.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class ConfigurationDiffTests
{
    private static readonly LoadBalancerOptions s_running = new()
    {
        Listen = ["127.0.0.1:8000"],
        Backends = [new BackendOptions("10.0.0.1:80"), new BackendOptions("10.0.0.2:80")],
        Sni = new SniRoutingOptions(),
    };

    public static TheoryData<string, Func<LoadBalancerOptions, LoadBalancerOptions>, bool> Changes => new()
    {
        { "Name", o => o with { Name = "edge" }, false },
        { "Listen", o => o with { Listen = ["127.0.0.1:9000"] }, false },
        { "Backends", o => o with { Backends = [new BackendOptions("10.0.0.1:80", weight: 3)] }, true },
        { "Strategy", o => o with { Strategy = "round-robin" }, false },
        { "CustomStrategy", o => o with { CustomStrategy = new LoadBalancer.Reactive.Balancing.Strategies.RoundRobinStrategy() }, false },
        { "RandomSeed", o => o with { RandomSeed = 7 }, false },
        { "ConnectTimeout", o => o with { ConnectTimeout = TimeSpan.FromSeconds(1) }, true },
        { "MaxConnectAttempts", o => o with { MaxConnectAttempts = 1 }, true },
        { "IdleTimeout", o => o with { IdleTimeout = TimeSpan.FromMinutes(1) }, true },
        { "HealthCheck:Enabled", o => o with { HealthCheck = o.HealthCheck with { Enabled = false } }, true },
        { "HealthCheck:Interval", o => o with { HealthCheck = o.HealthCheck with { Interval = TimeSpan.FromSeconds(5) } }, true },
        { "HealthCheck:Timeout", o => o with { HealthCheck = o.HealthCheck with { Timeout = TimeSpan.FromSeconds(2) } }, true },
        { "HealthCheck:Rise", o => o with { HealthCheck = o.HealthCheck with { Rise = 5 } }, true },
        { "HealthCheck:Fall", o => o with { HealthCheck = o.HealthCheck with { Fall = 5 } }, true },
        { "HealthCheck:Send", o => o with { HealthCheck = o.HealthCheck with { Send = "PING" } }, true },
        { "HealthCheck:Expect", o => o with { HealthCheck = o.HealthCheck with { Expect = "PONG" } }, true },
        { "OutlierDetection:Enabled", o => o with { OutlierDetection = o.OutlierDetection with { Enabled = false } }, true },
        { "OutlierDetection:ConsecutiveFailures", o => o with { OutlierDetection = o.OutlierDetection with { ConsecutiveFailures = 2 } }, true },
        { "OutlierDetection:BaseEjectionTime", o => o with { OutlierDetection = o.OutlierDetection with { BaseEjectionTime = TimeSpan.FromSeconds(1) } }, true },
        { "OutlierDetection:MaxEjectionTime", o => o with { OutlierDetection = o.OutlierDetection with { MaxEjectionTime = TimeSpan.FromMinutes(1) } }, true },
        { "OutlierDetection:MaxEjectionPercent", o => o with { OutlierDetection = o.OutlierDetection with { MaxEjectionPercent = 100 } }, true },
        { "OutlierDetection:EjectLastAvailable", o => o with { OutlierDetection = o.OutlierDetection with { EjectLastAvailable = true } }, true },
        { "MaxConnections", o => o with { MaxConnections = 10 }, true },
        { "MaxQueueLength", o => o with { MaxQueueLength = 10 }, true },
        { "SlowStart", o => o with { SlowStart = TimeSpan.FromSeconds(10) }, true },
        { "DnsRefreshInterval", o => o with { DnsRefreshInterval = TimeSpan.FromSeconds(10) }, false },
        { "FirstByteTimeout", o => o with { FirstByteTimeout = TimeSpan.FromSeconds(1) }, false },
        { "QueueTimeout", o => o with { QueueTimeout = TimeSpan.FromSeconds(1) }, true },
        { "PanicMode", o => o with { PanicMode = true }, true },
        { "AcceptProxy:From", o => o with { AcceptProxy = new AcceptProxyOptions { From = ["10.1.0.0/16"] } }, false },
        { "AcceptProxy:HeaderTimeout", o => o with { AcceptProxy = new AcceptProxyOptions { HeaderTimeout = TimeSpan.FromSeconds(1) } }, false },
        { "Tls", o => o with { Tls = new TlsOptions { CertificatePath = "server.pfx" } }, false },
        { "Sni:Routes", o => o with { Sni = new SniRoutingOptions { Routes = [new SniRoute("api.example.com", "api")] } }, false },
        { "Sni:HelloTimeout", o => o with { Sni = new SniRoutingOptions { HelloTimeout = TimeSpan.FromSeconds(1) } }, false },
        { "Clients:Allow", o => o with { Clients = o.Clients with { Allow = ["10.0.0.0/8"] } }, true },
        { "Clients:Deny", o => o with { Clients = o.Clients with { Deny = ["10.9.0.0/16"] } }, true },
        { "Clients:Listeners", o => o with { Clients = o.Clients with { Listeners = [new ListenerAccess { Listen = "127.0.0.1:8000", Deny = ["10.0.0.0/8"] }] } }, true },
        { "Clients:MaxConnections", o => o with { Clients = o.Clients with { MaxConnections = 5 } }, true },
        { "Clients:MaxConnectionRate", o => o with { Clients = o.Clients with { MaxConnectionRate = 5 } }, true },
        { "Clients:ConnectionRateInterval", o => o with { Clients = o.Clients with { ConnectionRateInterval = TimeSpan.FromSeconds(5) } }, true },
        { "EventBufferCapacity", o => o with { EventBufferCapacity = 10 }, false },
        { "AccessLog", o => o with { AccessLog = true }, true },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void Compare_OneSettingChanged_IsAppliedLiveOrNeedsARestart_ByItsKey(
        string key, Func<LoadBalancerOptions, LoadBalancerOptions> change, bool live)
    {
        var (applied, restart, effective) = ConfigurationDiff.Compare(s_running, s_running, change(s_running));

        Assert.Equal(live ? [key] : [], applied);
        Assert.Equal(live ? [] : [key], restart);
        // A setting that needs a restart keeps its running value in the options in force.
        var inForce = ConfigurationDiff.Compare(s_running, s_running, effective);
        Assert.Equal(live ? [key] : [], [.. inForce.Applied, .. inForce.RestartNeeded]);
    }

    [Fact]
    public void Keys_EverySettingOfTheOptions_IsDecided()
    {
        var decided = ConfigurationDiff.Keys.Select(key => key.Split(':')[0]).ToHashSet();
        var settings = typeof(LoadBalancerOptions).GetProperties().Select(property => property.Name);

        Assert.Empty(settings.Where(setting => !decided.Contains(setting)));
        string[] tls = ["Tls:Certificate", "Tls:CertificatePath", "Tls:KeyPath", "Tls:Password", "Tls:HandshakeTimeout"];
        Assert.Equal(Changes.Select(row => (string)row[0]).Concat(tls).Order(), ConfigurationDiff.Keys.Order());
    }

    [Fact]
    public void Compare_NothingChanged_ReportsNothing()
    {
        var copy = s_running with { Listen = ["127.0.0.1:8000"], Backends = [new BackendOptions("10.0.0.1:80"), new BackendOptions("10.0.0.2:80")] };

        var (applied, restart, _) = ConfigurationDiff.Compare(s_running, s_running, copy);

        Assert.Empty(applied);
        Assert.Empty(restart);
    }

    [Fact]
    public void Compare_ARestartStillNeeded_IsReportedAgainByALaterReconfiguration_WhileLiveOnesAreNot()
    {
        var first = s_running with { Listen = ["127.0.0.1:9000"], MaxConnections = 10 };
        var (_, _, inForce) = ConfigurationDiff.Compare(s_running, s_running, first);

        var (applied, restart, _) = ConfigurationDiff.Compare(s_running, inForce, first with { PanicMode = true });

        Assert.Equal(["PanicMode"], applied);
        Assert.Equal(["Listen"], restart);
        Assert.Equal(["127.0.0.1:8000"], inForce.Listen);
        Assert.Equal(10, inForce.MaxConnections);
    }

    [Fact]
    public void Compare_TlsStaysOn_ItsCertificateAndTimeoutAreLive()
    {
        var tls = s_running with { Tls = new TlsOptions { CertificatePath = "old.pem", KeyPath = "old.key" } };

        var (applied, restart, effective) = ConfigurationDiff.Compare(
            tls, tls, tls with { Tls = new TlsOptions { CertificatePath = "new.pem", KeyPath = "new.key", HandshakeTimeout = TimeSpan.FromSeconds(3) } });

        Assert.Equal(["Tls:CertificatePath", "Tls:KeyPath", "Tls:HandshakeTimeout"], applied);
        Assert.Empty(restart);
        Assert.Equal("new.pem", effective.Tls.CertificatePath);
    }

    [Fact]
    public void Compare_SniRoutesWhileRoutingStaysOn_AreLive()
    {
        var routed = s_running with
        {
            Backends = [new BackendOptions("10.0.0.1:80") { Pool = "api" }],
            Sni = new SniRoutingOptions { Routes = [new SniRoute("api.example.com", "api")] },
        };

        var (applied, restart, _) = ConfigurationDiff.Compare(
            routed, routed, routed with { Sni = new SniRoutingOptions { Routes = [new SniRoute("*.example.com", "api")] } });

        Assert.Equal(["Sni:Routes"], applied);
        Assert.Empty(restart);
    }

    [Fact]
    public void Compare_BackendsFollowedByDns_NeedARestart()
    {
        var discovered = s_running with { Backends = [new BackendOptions("db.internal:5432")], DnsRefreshInterval = TimeSpan.FromSeconds(30) };

        var (applied, restart, effective) = ConfigurationDiff.Compare(
            discovered, discovered, discovered with { Backends = [new BackendOptions("db2.internal:5432")] });

        Assert.Empty(applied);
        Assert.Equal(["Backends"], restart);
        Assert.Equal("db.internal:5432", Assert.Single(effective.Backends).Address);
    }
}
