using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Pools chosen by server name in the fold: routes first, then the strategy within the pool.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class ServerNameRoutingFoldTests
{
    private static readonly LoadBalancerOptions s_options = new()
    {
        Backends =
        [
            new("10.0.0.1:443") { Pool = "api" },
            new("10.0.0.2:443") { Pool = "api" },
            new("10.0.0.3:443") { Pool = "web" },
            new("10.0.0.4:443") { Pool = "web-eu" },
            new("10.0.0.5:443"),
        ],
        HealthCheck = Balancers.NoHealthChecks,
        Sni = new SniRoutingOptions
        {
            Routes = [new("api.example.com", "api"), new("*.example.com", "web"), new("*.eu.example.com", "web-eu")],
        },
    };

    [Theory]
    [InlineData("api.example.com", "10.0.0.1:443")]
    [InlineData("API.EXAMPLE.COM", "10.0.0.1:443")]
    [InlineData("www.example.com", "10.0.0.3:443")]
    [InlineData("a.b.example.com", "10.0.0.3:443")]
    [InlineData("shop.eu.example.com", "10.0.0.4:443")]
    [InlineData("example.com", "10.0.0.5:443")]
    [InlineData("other.org", "10.0.0.5:443")]
    [InlineData(null, "10.0.0.5:443")]
    public void Route_ExactThenLongestWildcardThenDefault(string? serverName, string backend)
    {
        var step = Reduce(BalancerState.Create(s_options.Backends), new ConnectionArrived(1) { ServerName = serverName });

        Assert.Equal(backend, Assert.IsType<Assignment>(step.Decision).Backend.Address);
    }

    [Fact]
    public void LeastConnections_WorksWithinThePool_AndRetriesStayInIt()
    {
        var state = BalancerState.Create(s_options.Backends);
        state = Reduce(state, new ConnectionArrived(1) { ServerName = "api.example.com" }).State;
        var second = Reduce(state, new ConnectionArrived(2) { ServerName = "api.example.com" });
        Assert.Equal("10.0.0.2:443", Assert.IsType<Assignment>(second.Decision).Backend.Address);

        // Connection 2 fails on .2; the only other api backend (.1) takes it, never one from another pool.
        var retried = Reduce(second.State, new ConnectFailed(2));
        Assert.Equal("10.0.0.1:443", Assert.IsType<Assignment>(retried.Decision).Backend.Address);
        var failed = Reduce(retried.State, new ConnectFailed(2));
        Assert.IsType<GiveUp>(failed.Decision);
    }

    [Fact]
    public void AnEmptyPool_RefusesItsConnections_EvenInPanicMode_WhileOtherPoolsServe()
    {
        var options = s_options with { PanicMode = true, HealthCheck = new HealthCheckOptions { Fall = 1 } };
        var state = BalancerState.Create(options.Backends, options.HealthCheck);
        state = Reduce(state, new HealthProbed("10.0.0.3:443", Healthy: false), options).State;

        var web = Reduce(state, new ConnectionArrived(1) { ServerName = "www.example.com" }, options);
        var api = Reduce(state, new ConnectionArrived(2) { ServerName = "api.example.com" }, options);

        // Panic spreads over the pool's own (down) backend, never over another pool's.
        Assert.Equal("10.0.0.3:443", Assert.IsType<Assignment>(web.Decision).Backend.Address);
        Assert.IsType<Assignment>(api.Decision);
        var strict = Reduce(state, new ConnectionArrived(3) { ServerName = "www.example.com" });
        Assert.Equal(RejectionReason.NoBackendAvailable, Assert.IsType<Rejection>(strict.Decision).Reason);
    }

    [Fact]
    public void Validation_NamesRoutesToMissingPoolsAndBadNames()
    {
        var errors = LoadBalancerOptionsValidator.Validate(s_options with
        {
            Listen = ["127.0.0.1:0"],
            Sni = new SniRoutingOptions { Routes = [new("db.example.com", "db"), new("bad name", "api"), new("*.example.com", "web"), new("*.example.com", "api")] },
        });

        Assert.Equal(
            [
                "Sni.Routes[0] ('db.example.com') goes to pool 'db', but no backend is in it.",
                "Sni.Routes[1] server name 'bad name' is not a host name or a wildcard like *.example.com.",
                "Sni.Routes[3] server name '*.example.com' is routed more than once.",
            ],
            errors);
    }

    private static Step Reduce(BalancerState state, BalancerInput @event, LoadBalancerOptions? options = null) =>
        BalancerReducer.Reduce(state, @event, FoldPolicy.From(options ?? s_options, new LeastConnectionsStrategy()));
}
