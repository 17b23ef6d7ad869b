using System.Collections;
using LoadBalancer.Reactive.Configuration;
using Quickstart;

namespace LoadBalancer.Reactive.Tests.Quickstart;

/// <summary>The Quickstart's one configuration: the --config file, LB_ variables and flags, in the library's schema.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public sealed class QuickstartConfigurationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lb-config-").FullName;

    [Fact]
    public void Read_FullFile_ReadsEverySetting()
    {
        var reading = Read("""
            {
              // Comments and trailing commas are fine.
              "Listen": ["127.0.0.1:0"],
              "Backends": [ "10.0.0.5:80", { "Address": "10.0.0.6:80", "Weight": 2, "MaxConnections": 10, "HealthCheck": { "Enabled": false }, "SendProxy": "v1", "Pool": "api", "State": "Draining", "Tls": { "ServerName": "api.internal", "ValidateCertificate": false } } ],
              "AcceptProxy": { "From": ["10.1.0.0/16"], "HeaderTimeout": "2s" },
              "Sni": { "Routes": [ { "ServerName": "api.example.com", "Pool": "api" } ], "HelloTimeout": "3s" },
              "MaxConnections": 500,
              "MaxQueueLength": 50,
              "QueueTimeout": "3s",
              "Strategy": "maglev",
              "RandomSeed": 7,
              "ConnectTimeout": "750ms",
              "MaxConnectAttempts": 2,
              "IdleTimeout": "0",
              "PanicMode": true,
              "DnsRefreshInterval": "20s",
              "HealthCheck": { "Interval": "500ms", "Timeout": "200ms", "Rise": 3, "Fall": 4, "Send": "PING\r\n", "Expect": "+PONG" },
              "OutlierDetection": { "ConsecutiveFailures": 7, "BaseEjectionTime": "10s", "MaxEjectionTime": "1m", "MaxEjectionPercent": 30 },
              "Clients": { "Allow": ["10.0.0.0/8"], "Deny": ["10.9.0.0/16"], "Listeners": [{ "Listen": "127.0.0.1:0", "Allow": ["10.1.0.0/16"] }], "MaxConnections": 20, "MaxConnectionRate": 50, "ConnectionRateInterval": "10s" },
              "DrainTimeout": "9s",
            }
            """);

        Assert.Empty(reading.Errors);
        var options = reading.Options!;
        Assert.Equal([("10.0.0.5:80", 1, (bool?)null), ("10.0.0.6:80", 2, false)], options.Backends.Select(b => (b.Address, b.Weight, b.HealthCheck?.Enabled)));
        Assert.Equal(("maglev", 7, 2, TimeSpan.Zero, true), (options.Strategy, options.RandomSeed, options.MaxConnectAttempts, options.IdleTimeout, options.PanicMode));
        Assert.Equal((TimeSpan.FromMilliseconds(750), TimeSpan.FromSeconds(20)), (options.ConnectTimeout, options.DnsRefreshInterval));
        Assert.Equal((TimeSpan.FromMilliseconds(500), 3, 4, "+PONG"), (options.HealthCheck.Interval, options.HealthCheck.Rise, options.HealthCheck.Fall, options.HealthCheck.Expect));
        Assert.Equal((7, TimeSpan.FromSeconds(10), 30), (options.OutlierDetection.ConsecutiveFailures, options.OutlierDetection.BaseEjectionTime, options.OutlierDetection.MaxEjectionPercent));
        Assert.Equal(TimeSpan.FromSeconds(9), reading.DrainTimeout);
        Assert.Equal((ProxyProtocolVersion.None, ProxyProtocolVersion.V1), (options.Backends[0].SendProxy, options.Backends[1].SendProxy));
        Assert.Equal(BackendState.Draining, options.Backends[1].State);
        Assert.Equal(["10.1.0.0/16"], options.AcceptProxy.From);
        Assert.Equal([new SniRoute("api.example.com", "api")], options.Sni.Routes);
        Assert.Equal(("api.internal", false), (options.Backends[1].Tls!.ServerName, options.Backends[1].Tls!.ValidateCertificate));
        Assert.Equal((TimeSpan.FromSeconds(3), "api"), (options.Sni.HelloTimeout, options.Backends[1].Pool));
        Assert.Equal(TimeSpan.FromSeconds(2), options.AcceptProxy.HeaderTimeout);
        Assert.Equal(["10.0.0.0/8"], options.Clients.Allow);
        Assert.Equal(["10.9.0.0/16"], options.Clients.Deny);
        var listener = Assert.Single(options.Clients.Listeners);
        Assert.Equal("127.0.0.1:0", listener.Listen);
        Assert.Equal(["10.1.0.0/16"], listener.Allow);
        Assert.Equal((20, 50, TimeSpan.FromSeconds(10)), (options.Clients.MaxConnections, options.Clients.MaxConnectionRate, options.Clients.ConnectionRateInterval));
        Assert.Equal((500, 50, TimeSpan.FromSeconds(3), 10), (options.MaxConnections, options.MaxQueueLength, options.QueueTimeout, options.Backends[1].MaxConnections));
    }

    [Theory]
    [InlineData("""{ "Backends": ["10.0.0.1:80"], "Listne": ["127.0.0.1:0"] }""", "Listne is not a setting; the balancer settings are Name,")]
    [InlineData("""{ "Backends": ["10.0.0.1:80"], "connectAttempts": 2 }""", "connectAttempts is not a setting;")]
    [InlineData("""{ "Backends": ["10.0.0.1:80"], "HealthCheck": { "Interval": "2" } }""", "HealthCheck:Interval '2' has no unit; write it like 500ms, 2s, 1m or 1h.")]
    [InlineData("""{ "Backends": [ { "Address": "10.0.0.1:80", "Weight": "heavy" } ] }""", "Backends:0:Weight 'heavy' is not a whole number.")]
    [InlineData("""{ "Backends": [ "10.0.0.1:0" ] }""", "Backends[0].Address '10.0.0.1:0' has port 0, outside 1-65535.")]
    [InlineData("""{ "Backends": ["10.0.0.1:80"], "Strategy": "fastest" }""", "Strategy 'fastest' is unknown; valid strategies are:")]
    [InlineData("""{ "Backends": ["10.0.0.1:80"], "Clients": { "Allow": ["10.0.0.0/40"] } }""", "Clients.Allow[0] '10.0.0.0/40' is not a network")]
    [InlineData("""{ "Backends": ["10.0.0.1:80"], "Clients": { "MaxConn": 2 } }""", "Clients:MaxConn is not a setting; the client settings are")]
    [InlineData("""{ "Backends": [ { "Address": "10.0.0.1:443", "Tls": { "Verify": false } } ] }""", "Backends:0:Tls:Verify is not a setting; the backend TLS settings are")]
    [InlineData("""{ "Backends": [ { "Address": "10.0.0.1:80", "SendProxy": "v3" } ] }""", "Backends:0:SendProxy 'v3' is not a PROXY protocol version")]
    [InlineData("""{ "Backends": ["10.0.0.1:80"], "DrainTimeout": "5" }""", "DrainTimeout '5' has no unit; write it like 500ms, 2s, 1m or 1h.")]
    public void Read_Mistakes_NameTheKey(string json, string expected)
    {
        var reading = Read(json);

        Assert.Null(reading.Options);
        Assert.StartsWith(expected, Assert.Single(reading.Errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ not json", "Could not parse the JSON file.")]
    [InlineData(null, "was not found")]
    public void Build_FileThatDoesNotLoad_ThrowsNamingIt(string? json, string expected)
    {
        var path = Path.Combine(_directory, "lb.json");
        if (json is not null)
        {
            File.WriteAllText(path, json);
        }

        var (settings, _) = QuickstartArguments.Parse(["--config", path]);
        var exception = Record.Exception(() => QuickstartConfiguration.Build(settings!, new Hashtable()));

        Assert.True(exception is IOException or InvalidDataException, exception?.ToString());
        var message = QuickstartConfiguration.Describe(exception!);
        Assert.Contains("lb.json", message, StringComparison.Ordinal);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_FlagsWinOverEnvironment_WhichWinsOverTheFile()
    {
        var path = Write("""{ "Backends": ["10.0.0.1:80"], "ConnectTimeout": "1s", "IdleTimeout": "1m", "MaxConnections": 10 }""");
        var (settings, _) = QuickstartArguments.Parse(["--config", path, "--connect-timeout", "3s"]);
        var environment = new Hashtable { ["LB_ConnectTimeout"] = "2s", ["LB_IdleTimeout"] = "2m", ["OTHER"] = "x" };

        var options = QuickstartConfiguration.Build(settings!, environment).Read().Options!;

        Assert.Equal((TimeSpan.FromSeconds(3), TimeSpan.FromMinutes(2), 10), (options.ConnectTimeout, options.IdleTimeout, options.MaxConnections));
    }

    [Fact]
    public void Read_ListFlags_ReplaceTheFilesList_AndSniAddsToIt()
    {
        var path = Write("""{ "Listen": ["127.0.0.1:1", "127.0.0.1:2"], "Backends": ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"] }""");
        var environment = new Hashtable { ["LB_Backends__3"] = "10.0.0.4:80" };

        var replaced = Options(environment, "--config", path, "--backend", "10.0.0.9:80", "--listen", "127.0.0.1:3");
        var added = Options(environment, "--config", path, "--sni", "a.example=10.0.1.1:443", "--send-proxy", "v1");

        Assert.Equal(["127.0.0.1:3"], replaced.Listen);
        Assert.Equal(["10.0.0.9:80"], replaced.Backends.Select(backend => backend.Address));
        Assert.Equal(["127.0.0.1:1", "127.0.0.1:2"], added.Listen);
        Assert.Equal(["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.1.1:443"], added.Backends.Select(backend => backend.Address));
        Assert.All(added.Backends, backend => Assert.Equal(ProxyProtocolVersion.V1, backend.SendProxy));
    }

    [Fact]
    public void HasBackends_OnlySniPools_IsFalse_SoTheDemoBackendsJoinThem()
    {
        var (settings, _) = QuickstartArguments.Parse(["--sni", "a.example=10.0.1.1:443"]);
        var configuration = QuickstartConfiguration.Build(settings!, new Hashtable());

        Assert.False(configuration.HasBackends);
        configuration.UseBackends(["127.0.0.1:8081", "127.0.0.1:8082"]);

        Assert.Equal(["127.0.0.1:8081", "127.0.0.1:8082", "10.0.1.1:443"], configuration.Read().Options!.Backends.Select(backend => backend.Address));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private QuickstartReading Read(string json)
    {
        var (settings, _) = QuickstartArguments.Parse(["--config", Write(json)]);
        return QuickstartConfiguration.Build(settings!, new Hashtable()).Read();
    }

    private static LoadBalancerOptions Options(IDictionary environment, params string[] args)
    {
        var (settings, errors) = QuickstartArguments.Parse(args);
        Assert.Empty(errors);
        var reading = QuickstartConfiguration.Build(settings!, environment).Read();
        Assert.Empty(reading.Errors);
        return reading.Options!;
    }

    private string Write(string json)
    {
        var path = Path.Combine(_directory, "lb.json");
        File.WriteAllText(path, json);
        return path;
    }
}
