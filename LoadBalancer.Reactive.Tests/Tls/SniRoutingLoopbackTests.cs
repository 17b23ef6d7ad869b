using System.Net.Sockets;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Tls;

/// <summary>
/// TLS passthrough routed by server name, with real SslStream clients completing real handshakes with the
/// backends: the balancer only peeks at the ClientHello and relays it untouched.
/// </summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class SniRoutingLoopbackTests
{
    [Fact]
    public async Task ClientsReachThePoolTheirServerNameRoutesTo_WithTlsEndToEnd()
    {
        using var certificate = Infrastructure.Tls.Certificate("api.example.com", "www.example.com", "localhost");
        await using var api1 = Infrastructure.Tls.Server("api-1", certificate);
        await using var api2 = Infrastructure.Tls.Server("api-2", certificate);
        await using var web = Infrastructure.Tls.Server("web", certificate);
        await using var fallback = Infrastructure.Tls.Server("default", certificate);
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends =
            [
                new(api1.Address) { Pool = "api" },
                new(api2.Address) { Pool = "api" },
                new(web.Address) { Pool = "web" },
                new(fallback.Address),
            ],
            HealthCheck = Balancers.NoHealthChecks,
            Strategy = "round-robin",
            Sni = new SniRoutingOptions { Routes = [new("api.example.com", "api"), new("*.example.com", "web")] },
        });
        using var events = new EventRecorder(balancer.Events);
        var listener = balancer.ListenEndPoints[0];

        var answers = new List<string>();
        foreach (var name in new[] { "api.example.com", "api.example.com", "www.example.com", "localhost", null })
        {
            answers.Add(await Infrastructure.Tls.AskAsync(listener, name));
        }

        Assert.Equal(["api-1", "api-2"], answers[..2].Order());
        Assert.Equal(["web", "default", "default"], answers[2..]);
        var accepted = await events.WaitForAsync<ConnectionAccepted>(5);
        Assert.Equal(["api.example.com", "api.example.com", "www.example.com", "localhost", null], accepted.Select(e => e.ServerName));
    }

    [Fact]
    public async Task NotTls_OrATruncatedHello_IsRefusedCleanly_AndTheBalancerCarriesOn()
    {
        using var certificate = Infrastructure.Tls.Certificate("api.example.com");
        await using var api = Infrastructure.Tls.Server("api", certificate);
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(api.Address) { Pool = "api" }],
            HealthCheck = Balancers.NoHealthChecks,
            Sni = new SniRoutingOptions { Routes = [new("api.example.com", "api")] },
        });
        using var events = new EventRecorder(balancer.Events);
        var listener = balancer.ListenEndPoints[0];

        Assert.Empty(System.Text.Encoding.ASCII.GetBytes(await Loopback.AskAsync(listener)));
        var hello = await Infrastructure.Tls.CaptureClientHelloAsync("api.example.com");
        using (var truncated = await Loopback.ConnectAsync(listener))
        {
            await Loopback.SendAllAsync(truncated, hello[..(hello.Length / 2)]);
            truncated.Shutdown(SocketShutdown.Send);
            Assert.Empty(await Loopback.ReadToEndAsync(truncated));
        }

        var rejected = await events.WaitForAsync<ConnectionRejected>(2);
        Assert.All(rejected, r => Assert.Equal(RejectionReason.InvalidClientHello, r.Reason));
        Assert.Equal(0, api.Accepted);
        Assert.Equal("api", await Infrastructure.Tls.AskAsync(listener, "api.example.com"));
    }
}
