using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Tests.Configuration;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class LoadBalancerOptionsValidatorTests
{
    private static readonly LoadBalancerOptions s_valid = new()
    {
        Listen = ["127.0.0.1:8000"],
        Backends = [new BackendOptions("127.0.0.1:8081"), new BackendOptions("127.0.0.1:8082", weight: 3)],
    };

    public static TheoryData<string, LoadBalancerOptions, string> Invalid => new()
    {
        { "no listen endpoint", s_valid with { Listen = [] }, "Listen must name at least one endpoint" },
        { "listen not HOST:PORT", s_valid with { Listen = ["8000"] }, "Listen[0] '8000' is not HOST:PORT" },
        { "listen port too big", s_valid with { Listen = ["127.0.0.1:70000"] }, "Listen[0] '127.0.0.1:70000' has port 70000, outside 0-65535" },
        { "listen on a host name", s_valid with { Listen = ["example.com:80"] }, "Listen[0] 'example.com:80' must be an IP address" },
        { "listen twice", s_valid with { Listen = ["127.0.0.1:8000", "127.0.0.1:8000"] }, "Listen[1] '127.0.0.1:8000' is listed more than once" },
        { "no backends", s_valid with { Backends = [] }, "Backends must list at least one backend" },
        { "null backend", s_valid with { Backends = [null!] }, "Backends[0] is null" },
        { "backend port zero", s_valid with { Backends = [new BackendOptions("127.0.0.1:0")] }, "Backends[0].Address '127.0.0.1:0' has port 0, outside 1-65535" },
        { "backend port too big", s_valid with { Backends = [new BackendOptions("10.0.0.1:65536")] }, "Backends[0].Address '10.0.0.1:65536' has port 65536, outside 1-65535" },
        { "backend port not a number", s_valid with { Backends = [new BackendOptions("10.0.0.1:http")] }, "Backends[0].Address '10.0.0.1:http' has port 'http', which is not a number" },
        { "backend empty", s_valid with { Backends = [new BackendOptions("")] }, "Backends[0].Address is empty" },
        { "backend bad IPv6", s_valid with { Backends = [new BackendOptions("[::zz]:80")] }, "Backends[0].Address '[::zz]:80' has '[::zz]', which is not an IPv6 address" },
        { "backend unbracketed IPv6", s_valid with { Backends = [new BackendOptions("::1:80")] }, "write IPv6 addresses in brackets" },
        { "backend bad host", s_valid with { Backends = [new BackendOptions("bad host:80")] }, "Backends[0].Address 'bad host:80' has 'bad host', which is neither" },
        { "duplicate backend", s_valid with { Backends = [new BackendOptions("127.0.0.1:8081"), new BackendOptions("127.0.0.1:8081")] }, "Backends[1] '127.0.0.1:8081' is listed more than once" },
        { "duplicate host name", s_valid with { Backends = [new BackendOptions("DB:5432"), new BackendOptions("db:5432")] }, "Backends[1] 'db:5432' is listed more than once" },
        { "negative weight", s_valid with { Backends = [new BackendOptions("127.0.0.1:8081", weight: -1)] }, "Backends[0] '127.0.0.1:8081' has weight -1, outside 0-10000" },
        { "huge weight", s_valid with { Backends = [new BackendOptions("127.0.0.1:8081", weight: 10_001)] }, "has weight 10001, outside 0-10000" },
        { "unknown strategy", s_valid with { Strategy = "fastest" }, "Strategy 'fastest' is unknown; valid strategies are: least-connections" },
        { "zero connect timeout", s_valid with { ConnectTimeout = TimeSpan.Zero }, "ConnectTimeout must be positive" },
        { "negative connect timeout", s_valid with { ConnectTimeout = TimeSpan.FromSeconds(-1) }, "ConnectTimeout must be positive" },
        { "zero event buffer", s_valid with { EventBufferCapacity = 0 }, "EventBufferCapacity must be positive" },
        { "allow not a network", s_valid with { Clients = new() { Allow = ["10.0.0.0/33"] } }, "Clients.Allow[0] '10.0.0.0/33' is not a network" },
        { "allow with host bits", s_valid with { Clients = new() { Allow = ["10.1.2.3/8"] } }, "Clients.Allow[0] '10.1.2.3/8' is not a network" },
        { "listener rules for no listener", s_valid with { Clients = new() { Listeners = [new() { Listen = "127.0.0.1:9999" }] } }, "Clients.Listeners[0].Listen '127.0.0.1:9999' is not one of Listen" },
        { "listener rules for a doubled listener", s_valid with { Listen = ["127.0.0.1:0", "127.0.0.1:0"], Clients = new() { Listeners = [new() { Listen = "127.0.0.1:0" }] } }, "is written for more than one listener" },
        { "listener rules twice", s_valid with { Clients = new() { Listeners = [new() { Listen = s_valid.Listen[0] }, new() { Listen = s_valid.Listen[0] }] } }, "Clients.Listeners[1].Listen" },
        { "listener deny not a network", s_valid with { Clients = new() { Listeners = [new() { Listen = s_valid.Listen[0], Deny = ["10.0.0.0/40"] }] } }, "Clients.Listeners[0].Deny[0] '10.0.0.0/40' is not a network" },
        { "deny not an address", s_valid with { Clients = new() { Deny = ["10.0.0.0/8", "intranet"] } }, "Clients.Deny[1] 'intranet' is not an IP address" },
        { "deny empty", s_valid with { Clients = new() { Deny = [""] } }, "Clients.Deny[0] is empty" },
        { "negative per-client limit", s_valid with { Clients = new() { MaxConnections = -1 } }, "Clients.MaxConnections must be zero (no limit) or positive" },
        { "accept-proxy not a network", s_valid with { AcceptProxy = new() { From = ["proxies"] } }, "AcceptProxy.From[0] 'proxies' is not an IP address" },
        { "zero header timeout", s_valid with { AcceptProxy = new() { HeaderTimeout = TimeSpan.Zero } }, "AcceptProxy.HeaderTimeout must be positive" },
        { "undefined send-proxy", s_valid with { Backends = [new BackendOptions("127.0.0.1:8081") { SendProxy = (ProxyProtocolVersion)7 }] }, "Backends[0] '127.0.0.1:8081' has SendProxy 7; it must be None, V1 or V2" },
        { "zero rate interval", s_valid with { Clients = new() { ConnectionRateInterval = TimeSpan.Zero } }, "Clients.ConnectionRateInterval must be positive" },
    };

    [Fact]
    public void Validate_ValidOptions_FindsNothing()
    {
        Assert.Empty(LoadBalancerOptionsValidator.Validate(s_valid));
        Assert.Empty(LoadBalancerOptionsValidator.Validate(s_valid with
        {
            Listen = ["[::1]:0", "*:0", "localhost:0"],
            Backends = [new BackendOptions("[::1]:80"), new BackendOptions("db.internal:5432", weight: 0)],
        }));
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validate_InvalidOptions_NamesTheFieldAtFault(string scenario, LoadBalancerOptions options, string expected)
    {
        var errors = LoadBalancerOptionsValidator.Validate(options);

        var error = Assert.Single(errors);
        Assert.True(error.Contains(expected, StringComparison.Ordinal), $"{scenario}: '{error}' does not contain '{expected}'");
    }

    [Fact]
    public void Validate_ManyProblems_ReportsEveryOneAtOnce()
    {
        var options = new LoadBalancerOptions
        {
            Listen = ["nonsense"],
            Backends = [new BackendOptions("127.0.0.1:99999", weight: -5), new BackendOptions("10.0.0.1:80")],
            Strategy = "nope",
            ConnectTimeout = TimeSpan.Zero,
        };

        var errors = LoadBalancerOptionsValidator.Validate(options);

        Assert.Equal(5, errors.Count);
    }

    [Fact]
    public void Constructor_InvalidOptions_ThrowsWithEveryProblemInTheMessage()
    {
        var options = s_valid with { Backends = [], Strategy = "nope" };

        var exception = Assert.Throws<LoadBalancerOptionsException>(() => new TcpLoadBalancer(options));

        Assert.Equal(2, exception.Errors.Count);
        Assert.Contains("Backends must list at least one backend", exception.Message, StringComparison.Ordinal);
        Assert.Contains("Strategy 'nope' is unknown", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_NullOptions_Throws() =>
        Assert.Throws<ArgumentNullException>(() => new TcpLoadBalancer(null!));
}
