using LoadBalancer.Reactive.Configuration;
using Quickstart;

namespace LoadBalancer.Reactive.Tests.Quickstart;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class QuickstartArgumentsTests
{
    [Fact]
    public void Parse_NoArguments_IsDemoModeOnPort8000()
    {
        var (settings, errors) = QuickstartArguments.Parse([]);

        Assert.Empty(errors);
        Assert.NotNull(settings);
        Assert.True(settings.Demo);
        Assert.Equal(["127.0.0.1:8000"], settings.Listen);
        Assert.Equal("least-connections", settings.Strategy);
    }

    [Fact]
    public void Parse_RealBackends_WithWeightsAndListeners()
    {
        var (settings, errors) = QuickstartArguments.Parse(
        [
            "--listen", "0.0.0.0:5432", "--listen", "[::1]:5432",
            "--backend", "10.0.0.5:5432", "--backend", "db-2:5432@3",
            "--strategy", "maglev", "--seed", "42",
        ]);

        Assert.Empty(errors);
        Assert.NotNull(settings);
        Assert.False(settings.Demo);
        Assert.Equal(["0.0.0.0:5432", "[::1]:5432"], settings.Listen);
        Assert.Equal([("10.0.0.5:5432", 1), ("db-2:5432", 3)], settings.Backends.Select(b => (b.Address, b.Weight)));
        Assert.Equal(("maglev", 42), (settings.Strategy, settings.Seed));
    }

    [Fact]
    public void Parse_ClientFlags_SetAccessRulesAndPerClientLimits()
    {
        var (settings, errors) = QuickstartArguments.Parse(
        [
            "--backend", "10.0.0.5:80", "--allow", "10.0.0.0/8", "--allow", "::1", "--deny", "10.9.0.0/16",
            "--max-conn-per-client", "10", "--max-rate-per-client", "100/1m",
            "--accept-proxy", "10.1.0.0/16", "--send-proxy", "v2",
            "--sni", "api.example.com=10.0.1.1:443, 10.0.1.2:443", "--sni", "*.example.com=10.0.2.1:443",
        ]);

        Assert.Empty(errors);
        Assert.Equal(
            [("10.0.0.5:80", null), ("10.0.1.1:443", "api.example.com"), ("10.0.1.2:443", "api.example.com"), ("10.0.2.1:443", "*.example.com")],
            settings!.WithFlags([new("10.0.0.5:80")]).Select(b => (b.Address, b.Pool)));
        Assert.Equal([new SniRoute("api.example.com", "api.example.com"), new SniRoute("*.example.com", "*.example.com")], settings.Tuning(new()).Sni.Routes);
        Assert.Contains(
            "--sni 'api.example.com' is not NAME=HOST:PORT[,HOST:PORT...] (like api.example.com=10.0.0.5:443,10.0.0.6:443).",
            QuickstartArguments.Parse(["--sni", "api.example.com"]).Errors);
        Assert.Equal(["10.1.0.0/16"], settings.Tuning(new()).AcceptProxy.From);
        Assert.All(settings.WithFlags([new("10.0.0.5:80"), new("10.0.0.6:80")]), backend => Assert.Equal(ProxyProtocolVersion.V2, backend.SendProxy));
        Assert.Contains(
            "--send-proxy 'v3' is not a PROXY protocol version; write v1 or v2.",
            QuickstartArguments.Parse(["--send-proxy", "v3"]).Errors);
        var clients = settings.Tuning(new()).Clients;
        Assert.Equal(["10.0.0.0/8", "::1"], clients.Allow);
        Assert.Equal(["10.9.0.0/16"], clients.Deny);
        Assert.Equal((10, 100, TimeSpan.FromMinutes(1)), (clients.MaxConnections, clients.MaxConnectionRate, clients.ConnectionRateInterval));
        Assert.Equal((20, TimeSpan.FromSeconds(1)), Rate("20"));
        Assert.Contains(
            "--max-rate-per-client '20 per second' is not a rate; write connections per interval like 20/1s or 100/1m.",
            QuickstartArguments.Parse(["--max-rate-per-client", "20 per second"]).Errors);

        static (int, TimeSpan) Rate(string text)
        {
            var clients = QuickstartArguments.Parse(["--max-rate-per-client", text]).Settings!.Tuning(new()).Clients;
            return (clients.MaxConnectionRate, clients.ConnectionRateInterval);
        }
    }

    [Fact]
    public void Parse_HealthAndTimeoutFlags_TuneTheOptions()
    {
        var (settings, errors) = QuickstartArguments.Parse(
        [
            "--backend", "10.0.0.5:80", "--connect-timeout", "750ms", "--idle-timeout", "0", "--connect-attempts", "5",
            "--health-interval", "500ms", "--health-timeout", "200ms", "--rise", "4", "--fall", "6", "--panic-mode",
            "--max-connections", "100", "--max-queue", "20", "--queue-timeout", "2s", "--slow-start", "30s", "--dns-refresh", "15s",
        ]);

        Assert.Empty(errors);
        var options = settings!.Tuning(new LoadBalancer.Reactive.Configuration.LoadBalancerOptions());
        Assert.Equal(TimeSpan.FromMilliseconds(750), options.ConnectTimeout);
        Assert.Equal(TimeSpan.Zero, options.IdleTimeout);
        Assert.Equal(5, options.MaxConnectAttempts);
        Assert.Equal(
            (TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(200), 4, 6, true),
            (options.HealthCheck.Interval, options.HealthCheck.Timeout, options.HealthCheck.Rise, options.HealthCheck.Fall, options.HealthCheck.Enabled));
        Assert.True(options.PanicMode);
        Assert.Equal((100, 20, TimeSpan.FromSeconds(2)), (options.MaxConnections, options.MaxQueueLength, options.QueueTimeout));
        Assert.Equal((TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(15)), (options.SlowStart, options.DnsRefreshInterval));
    }

    [Fact]
    public void Parse_Quiet_LeavesOutPerConnectionLines()
    {
        Assert.True(QuickstartArguments.Parse(["--quiet"]).Settings!.Quiet);
        Assert.True(EventPrinter.IsPerConnection(new Reactive.Events.ConnectionAccepted(1, new System.Net.IPEndPoint(0, 1), new System.Net.IPEndPoint(0, 2))));
        Assert.False(EventPrinter.IsPerConnection(new Reactive.Events.BackendHealthChanged("10.0.0.1:80", false)));
    }

    [Fact]
    public void Parse_NoHealthChecks_TurnsThemOff()
    {
        var (settings, _) = QuickstartArguments.Parse(["--no-health-checks"]);

        Assert.False(settings!.Tuning(new LoadBalancer.Reactive.Configuration.LoadBalancerOptions()).HealthCheck.Enabled);
    }

    [Fact]
    public void Parse_Help_AsksForUsage()
    {
        var (settings, _) = QuickstartArguments.Parse(["--help"]);

        Assert.True(settings!.ShowHelp);
    }

    [Theory]
    [InlineData(new[] { "--bogus" }, "Unknown option '--bogus'.")]
    [InlineData(new[] { "stray" }, "Unexpected argument 'stray'.")]
    [InlineData(new[] { "--listen" }, "--listen needs a value.")]
    [InlineData(new[] { "--backend", "--listen", "127.0.0.1:1" }, "--backend needs a value.")]
    [InlineData(new[] { "--backend", "10.0.0.1:80@heavy" }, "--backend '10.0.0.1:80@heavy' has weight 'heavy', which is not a whole number.")]
    [InlineData(new[] { "--strategy", "fastest" }, "--strategy 'fastest' is unknown; valid strategies are: least-connections, weighted-least-connections, round-robin, weighted-round-robin, random, power-of-two-choices, source-ip-hash, maglev.")]
    [InlineData(new[] { "--seed", "x" }, "--seed 'x' is not a whole number.")]
    [InlineData(new[] { "--health-interval", "2" }, "--health-interval '2' has no unit; write it like 500ms, 2s, 1m or 1h.")]
    [InlineData(new[] { "--idle-timeout", "soon" }, "--idle-timeout 'soon' has no unit; write it like 500ms, 2s, 1m or 1h.")]
    [InlineData(new[] { "--rise", "-1" }, "--rise '-1' is not a whole number.")]
    [InlineData(new[] { "--drain-timeout", "5" }, "--drain-timeout '5' has no unit; write it like 500ms, 2s, 1m or 1h.")]
    [InlineData(new[] { "--config" }, "--config needs a value.")]
    [InlineData(new[] { "--strategy", "least-connections", "--strategy", "least-connections" }, "--strategy is given more than once.")]
    public void Parse_BadArguments_SayWhatIsWrong(string[] args, string expected)
    {
        var (settings, errors) = QuickstartArguments.Parse(args);

        Assert.Null(settings);
        Assert.Contains(expected, errors);
    }

    [Fact]
    public void Parse_SeveralMistakes_ReportsThemAll()
    {
        var (_, errors) = QuickstartArguments.Parse(["--bogus", "--strategy", "nope", "--backend"]);

        Assert.Equal(3, errors.Count);
    }
}
