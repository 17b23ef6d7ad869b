using LoadBalancer.Reactive.Configuration;
using Quickstart;

namespace LoadBalancer.Reactive.Tests.Quickstart;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public sealed class ConfigFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lb-config-").FullName;

    [Fact]
    public void Load_FullFile_ReadsEverySetting()
    {
        var path = Write("""
            {
              // Comments and trailing commas are fine.
              "listen": ["127.0.0.1:0"],
              "backends": [ "10.0.0.5:80", { "address": "10.0.0.6:80", "weight": 2, "maxConnections": 10, "healthCheck": { "enabled": false }, "sendProxy": "v1", "pool": "api", "tls": { "serverName": "api.internal", "validateCertificate": false } } ],
              "acceptProxy": { "from": ["10.1.0.0/16"], "headerTimeout": "2s" },
              "sni": { "routes": { "api.example.com": "api" }, "helloTimeout": "3s" },
              "maxConnections": 500,
              "maxQueueLength": 50,
              "queueTimeout": "3s",
              "strategy": "maglev",
              "seed": 7,
              "connectTimeout": "750ms",
              "connectAttempts": 2,
              "idleTimeout": "0",
              "panicMode": true,
              "healthCheck": { "interval": "500ms", "timeout": "200ms", "rise": 3, "fall": 4, "send": "PING\r\n", "expect": "+PONG" },
              "outlierDetection": { "consecutiveFailures": 7, "baseEjectionTime": "10s", "maxEjectionTime": "1m", "maxEjectionPercent": 30 },
              "clients": { "allow": ["10.0.0.0/8"], "deny": ["10.9.0.0/16"], "listeners": [{ "listen": "127.0.0.1:0", "allow": ["10.1.0.0/16"] }], "maxConnections": 20, "maxConnectionRate": 50, "connectionRateInterval": "10s" },
              "drainTimeout": "9s",
            }
            """);

        var (settings, errors) = ConfigFile.Load(path);

        Assert.Empty(errors);
        var options = settings!.Options;
        Assert.Equal([("10.0.0.5:80", 1, (bool?)null), ("10.0.0.6:80", 2, false)], options.Backends.Select(b => (b.Address, b.Weight, b.HealthCheck?.Enabled)));
        Assert.Equal(("maglev", 7, 2, TimeSpan.Zero, true), (options.Strategy, options.RandomSeed, options.MaxConnectAttempts, options.IdleTimeout, options.PanicMode));
        Assert.Equal(TimeSpan.FromMilliseconds(750), options.ConnectTimeout);
        Assert.Equal((TimeSpan.FromMilliseconds(500), 3, 4, "+PONG"), (options.HealthCheck.Interval, options.HealthCheck.Rise, options.HealthCheck.Fall, options.HealthCheck.Expect));
        Assert.Equal((7, TimeSpan.FromSeconds(10), 30), (options.OutlierDetection.ConsecutiveFailures, options.OutlierDetection.BaseEjectionTime, options.OutlierDetection.MaxEjectionPercent));
        Assert.Equal(TimeSpan.FromSeconds(9), settings.DrainTimeout);
        Assert.Equal((ProxyProtocolVersion.None, ProxyProtocolVersion.V1), (options.Backends[0].SendProxy, options.Backends[1].SendProxy));
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
    [InlineData("{ not json", "lb.json: is not valid JSON:")]
    [InlineData("[1, 2]", "lb.json: must hold one JSON object of settings.")]
    [InlineData("""{ "listne": ["127.0.0.1:0"] }""", "lb.json: 'listne' is not a setting; see the Quickstart's --help for the names.")]
    [InlineData("""{ "healthCheck": { "interval": "2" } }""", "lb.json: healthCheck.interval '2' has no unit; write it like 500ms, 2s, 1m or 1h.")]
    [InlineData("""{ "backends": [ { "address": "10.0.0.1:80", "weight": "heavy" } ] }""", "lb.json: backends[0].weight must be a whole number.")]
    [InlineData("""{ "backends": [ { "weight": 2 } ] }""", "lb.json: backends[0] has no address.")]
    [InlineData("""{ "backends": [ "10.0.0.1:0" ] }""", "lb.json: Backends[0].Address '10.0.0.1:0' has port 0, outside 1-65535.")]
    [InlineData("""{ "strategy": "fastest" }""", "lb.json: Strategy 'fastest' is unknown; valid strategies are:")]
    [InlineData("""{ "clients": { "allow": ["10.0.0.0/40"] } }""", "lb.json: Clients.Allow[0] '10.0.0.0/40' is not a network")]
    [InlineData("""{ "clients": { "maxConn": 2 } }""", "lb.json: clients.maxConn is not a client setting")]
    [InlineData("""{ "backends": [ { "address": "10.0.0.1:443", "tls": { "verify": false } } ] }""", "lb.json: backends[0].tls.verify is not a backend tls setting")]
    [InlineData("""{ "backends": [ { "address": "10.0.0.1:80", "sendProxy": "v3" } ] }""", "lb.json: backends[0].sendProxy must be \"v1\", \"v2\" or \"none\".")]
    [InlineData("""{ "acceptProxy": { "from": ["10.0.0.1/8"] } }""", "lb.json: AcceptProxy.From[0] '10.0.0.1/8' is not a network")]
    public void Load_Mistakes_NameTheFileAndTheSetting(string json, string expected)
    {
        var (settings, errors) = ConfigFile.Load(Write(json));

        Assert.Null(settings);
        Assert.StartsWith(expected, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFile_SaysItCannotBeRead()
    {
        var (_, errors) = ConfigFile.Load(Path.Combine(_directory, "absent.json"));

        Assert.StartsWith("absent.json: cannot be read:", Assert.Single(errors), StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string json)
    {
        var path = Path.Combine(_directory, "lb.json");
        File.WriteAllText(path, json);
        return path;
    }
}
