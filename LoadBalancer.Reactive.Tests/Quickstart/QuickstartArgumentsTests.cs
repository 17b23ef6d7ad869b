using System.Collections;
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
        var configuration = QuickstartConfiguration.Build(settings!, new Hashtable());
        Assert.False(configuration.HasBackends);
        configuration.UseBackends(["127.0.0.1:8081"]);
        var options = configuration.Read().Options!;
        Assert.Equal(["127.0.0.1:8000"], options.Listen);
        Assert.Equal("least-connections", options.Strategy);
    }

    [Fact]
    public void Parse_RealBackends_WithWeightsAndListeners()
    {
        var options = Options(
            "--listen", "0.0.0.0:5432", "--listen", "[::1]:5432",
            "--backend", "10.0.0.5:5432", "--backend", "db-2:5432@3",
            "--strategy", "maglev", "--seed", "42");

        Assert.Equal(["0.0.0.0:5432", "[::1]:5432"], options.Listen);
        Assert.Equal([("10.0.0.5:5432", 1), ("db-2:5432", 3)], options.Backends.Select(b => (b.Address, b.Weight)));
        Assert.Equal(("maglev", 42), (options.Strategy, options.RandomSeed));
    }

    [Fact]
    public void Parse_NameEqualsValue_IsTheSameAsNameSpaceValue()
    {
        var options = Options("--backend=10.0.0.5:80@2", "--strategy=round-robin", "--health-interval=500ms", "--no-health-checks");

        Assert.Equal(("10.0.0.5:80", 2), (options.Backends[0].Address, options.Backends[0].Weight));
        Assert.Equal(("round-robin", TimeSpan.FromMilliseconds(500), false), (options.Strategy, options.HealthCheck.Interval, options.HealthCheck.Enabled));
    }

    [Fact]
    public void Parse_ClientFlags_SetAccessRulesAndPerClientLimits()
    {
        var options = Options(
            "--backend", "10.0.0.5:80", "--allow", "10.0.0.0/8", "--allow", "::1", "--deny", "10.9.0.0/16",
            "--max-conn-per-client", "10", "--max-rate-per-client", "100/1m",
            "--accept-proxy", "10.1.0.0/16", "--send-proxy", "v2",
            "--sni", "api.example.com=10.0.1.1:443, 10.0.1.2:443", "--sni", "*.example.com=10.0.2.1:443");

        Assert.Equal(
            [("10.0.0.5:80", null), ("10.0.1.1:443", "api.example.com"), ("10.0.1.2:443", "api.example.com"), ("10.0.2.1:443", "*.example.com")],
            options.Backends.Select(b => (b.Address, b.Pool)));
        Assert.Equal([new SniRoute("api.example.com", "api.example.com"), new SniRoute("*.example.com", "*.example.com")], options.Sni.Routes);
        Assert.Equal(["10.1.0.0/16"], options.AcceptProxy.From);
        Assert.All(options.Backends, backend => Assert.Equal(ProxyProtocolVersion.V2, backend.SendProxy));
        Assert.Equal(["10.0.0.0/8", "::1"], options.Clients.Allow);
        Assert.Equal(["10.9.0.0/16"], options.Clients.Deny);
        Assert.Equal((10, 100, TimeSpan.FromMinutes(1)), (options.Clients.MaxConnections, options.Clients.MaxConnectionRate, options.Clients.ConnectionRateInterval));
        var perSecond = Options("--backend", "10.0.0.5:80", "--max-rate-per-client", "20").Clients;
        Assert.Equal((20, TimeSpan.FromSeconds(1)), (perSecond.MaxConnectionRate, perSecond.ConnectionRateInterval));
    }

    [Fact]
    public void Parse_HealthAndTimeoutFlags_TuneTheOptions()
    {
        var options = Options(
            "--backend", "10.0.0.5:80", "--connect-timeout", "750ms", "--idle-timeout", "0", "--connect-attempts", "5",
            "--health-interval", "500ms", "--health-timeout", "200ms", "--rise", "4", "--fall", "6", "--panic-mode",
            "--max-connections", "100", "--max-queue", "20", "--queue-timeout", "2s", "--slow-start", "30s", "--dns-refresh", "15s",
            "--first-byte-timeout", "3s", "--access-log");

        Assert.Equal(TimeSpan.FromMilliseconds(750), options.ConnectTimeout);
        Assert.Equal(TimeSpan.Zero, options.IdleTimeout);
        Assert.Equal(5, options.MaxConnectAttempts);
        Assert.Equal(
            (TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(200), 4, 6, true),
            (options.HealthCheck.Interval, options.HealthCheck.Timeout, options.HealthCheck.Rise, options.HealthCheck.Fall, options.HealthCheck.Enabled));
        Assert.True(options.PanicMode);
        Assert.Equal((100, 20, TimeSpan.FromSeconds(2)), (options.MaxConnections, options.MaxQueueLength, options.QueueTimeout));
        Assert.Equal((TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(15)), (options.SlowStart, options.DnsRefreshInterval));
        Assert.Equal((TimeSpan.FromSeconds(3), true), (options.FirstByteTimeout, options.AccessLog));
    }

    [Fact]
    public void Parse_Flags_AreTheLibrarysConfigurationKeys()
    {
        var (settings, _) = QuickstartArguments.Parse(
            ["--connect-attempts", "2", "--dns-refresh", "10s", "--seed", "7", "--drain-timeout", "9s", "--tls-cert", "a.pem"]);

        Assert.Equal(
            [("DnsRefreshInterval", "10s"), ("DrainTimeout", "9s"), ("MaxConnectAttempts", "2"), ("RandomSeed", "7"), ("Tls:CertificatePath", "a.pem")],
            settings!.Flags.Select(flag => (flag.Key, flag.Value)).Order());
    }

    [Fact]
    public void Parse_QuickstartSwitches_AreNotSettings()
    {
        var (settings, _) = QuickstartArguments.Parse(["--quiet", "--dashboard", "--check", "--config", "lb.json"]);

        Assert.Equal((true, true, true, "lb.json"), (settings!.Quiet, settings.Dashboard, settings.Check, settings.ConfigPath));
        Assert.Empty(settings.Flags);
        Assert.True(EventPrinter.IsPerConnection(new Reactive.Events.ConnectionAccepted(1, new System.Net.IPEndPoint(0, 1), new System.Net.IPEndPoint(0, 2))));
        Assert.False(EventPrinter.IsPerConnection(new Reactive.Events.BackendHealthChanged("10.0.0.1:80", false)));
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("--version")]
    public void AsksForHelpOrVersion_HelpAndVersion_AreAnswered(string flag)
    {
        string[] args = [flag];
        var output = new StringWriter();

        Assert.True(QuickstartArguments.AsksForHelpOrVersion(args));
        Assert.Equal(0, QuickstartArguments.Invoke(args, output, output));
        Assert.NotEmpty(output.ToString());
    }

    [Fact]
    public void Usage_IsGenerated_AndKeepsEveryFlagName()
    {
        string[] flags =
        [
            "--listen", "--backend", "--strategy", "--seed", "--connect-timeout", "--connect-attempts", "--idle-timeout", "--health-interval",
            "--health-timeout", "--rise", "--fall", "--max-connections", "--max-queue", "--queue-timeout", "--dns-refresh", "--slow-start",
            "--no-health-checks", "--panic-mode", "--access-log", "--allow", "--deny", "--tls-cert", "--tls-key", "--sni", "--send-proxy",
            "--accept-proxy", "--first-byte-timeout", "--max-conn-per-client", "--max-rate-per-client", "--quiet", "--dashboard", "--config",
            "--drain-timeout", "--check", "--help", "--version",
        ];

        Assert.All(flags, flag => Assert.Contains($"{flag} ", QuickstartArguments.Usage, StringComparison.Ordinal));
        Assert.False(QuickstartArguments.AsksForHelpOrVersion(["--check"]));
    }

    [Theory]
    [InlineData(new[] { "--bogus" }, "Unrecognized command or argument '--bogus'.")]
    [InlineData(new[] { "stray" }, "Unrecognized command or argument 'stray'.")]
    [InlineData(new[] { "--listen" }, "Required argument missing for option: '--listen'.")]
    [InlineData(new[] { "--backend", "--listen", "127.0.0.1:1" }, "--backend needs a value before --listen.")]
    [InlineData(new[] { "--config", "--check" }, "--config needs a value before --check.")]
    [InlineData(new[] { "--backend", "10.0.0.1:80@heavy" }, "--backend '10.0.0.1:80@heavy' has weight 'heavy', which is not a whole number.")]
    [InlineData(new[] { "--strategy", "fastest" }, "--strategy 'fastest' is unknown; valid strategies are: least-connections, weighted-least-connections, round-robin, weighted-round-robin, random, power-of-two-choices, source-ip-hash, maglev.")]
    [InlineData(new[] { "--seed", "x" }, "--seed 'x' is not a whole number.")]
    [InlineData(new[] { "--health-interval", "2" }, "--health-interval '2' has no unit; write it like 500ms, 2s, 1m or 1h.")]
    [InlineData(new[] { "--idle-timeout=soon" }, "--idle-timeout 'soon' has no unit; write it like 500ms, 2s, 1m or 1h.")]
    [InlineData(new[] { "--rise", "-1" }, "--rise '-1' is not a whole number.")]
    [InlineData(new[] { "--drain-timeout", "5" }, "--drain-timeout '5' has no unit; write it like 500ms, 2s, 1m or 1h.")]
    [InlineData(new[] { "--config" }, "Required argument missing for option: '--config'.")]
    [InlineData(new[] { "--send-proxy", "v3" }, "--send-proxy 'v3' is not a PROXY protocol version; write v1 or v2.")]
    [InlineData(new[] { "--max-rate-per-client", "20 per second" }, "--max-rate-per-client '20 per second' is not a rate; write connections per interval like 20/1s or 100/1m.")]
    [InlineData(new[] { "--sni", "api.example.com" }, "--sni 'api.example.com' is not NAME=HOST:PORT[,HOST:PORT...] (like api.example.com=10.0.0.5:443,10.0.0.6:443).")]
    public void Parse_BadArguments_SayWhatIsWrong(string[] args, string expected)
    {
        var (settings, errors) = QuickstartArguments.Parse(args);

        Assert.Null(settings);
        Assert.Contains(expected, errors);
    }

    [Fact]
    public void Parse_StrategyTwice_IsAnError()
    {
        var (settings, errors) = QuickstartArguments.Parse(["--strategy", "least-connections", "--strategy", "round-robin"]);

        Assert.Null(settings);
        Assert.Contains("--strategy", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SeveralMistakes_ReportsThemAll()
    {
        var (_, errors) = QuickstartArguments.Parse(["--bogus", "--strategy", "nope", "--backend"]);

        Assert.Equal(3, errors.Count);
    }

    private static LoadBalancerOptions Options(params string[] args)
    {
        var (settings, errors) = QuickstartArguments.Parse(args);
        Assert.Empty(errors);
        var reading = QuickstartConfiguration.Build(settings!, new Hashtable()).Read();
        Assert.Empty(reading.Errors);
        return reading.Options!;
    }
}
