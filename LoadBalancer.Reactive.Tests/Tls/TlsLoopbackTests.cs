using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Tls;

/// <summary>
/// TLS termination on the listener and TLS to backends, with certificates made in the test and real
/// SslStream peers; relays checked byte for byte, half-close included.
/// </summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class TlsLoopbackTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lb-tls-").FullName;
    private readonly X509Certificate2 _certificate = Infrastructure.Tls.Certificate("api.example.com", "www.example.com");

    public void Dispose()
    {
        _certificate.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData("pem", SslProtocols.Tls13)]
    [InlineData("pfx", SslProtocols.Tls12)]
    [InlineData("object", SslProtocols.None)]
    public async Task Termination_RelaysTheDecryptedBytesBothWays_WithHalfClose(string source, SslProtocols clientProtocols)
    {
        await using var backend = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            Tls = TerminationFrom(source),
        });
        using var events = new EventRecorder(balancer.Events);
        var payload = Loopback.RandomBytes(1024 * 1024, seed: 3);

        using var socket = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await using var tls = await Infrastructure.Tls.HandshakeAsync(socket, "api.example.com", protocols: clientProtocols);
        var sending = Task.Run(async () =>
        {
            await tls.WriteAsync(payload);
            await tls.ShutdownAsync(); // close_notify, then the balancer half-closes towards the backend
        });
        var echoed = await Loopback.ReadToEndAsync(tls);
        await sending.WaitAsync(Loopback.Timeout);

        Assert.Equal(Convert.ToHexString(SHA256.HashData(payload)), Convert.ToHexString(SHA256.HashData(echoed)));
        Assert.Contains(tls.SslProtocol, new[] { SslProtocols.Tls12, SslProtocols.Tls13 });
        Assert.Equal(_certificate.Thumbprint, new X509Certificate2(tls.RemoteCertificate!).Thumbprint);
        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal((payload.Length, payload.Length, CompletionReason.ClientClosed), (completed.BytesFromClient, completed.BytesFromBackend, completed.Reason));
        Assert.Equal("api.example.com", Assert.Single(events.OfType<ConnectionAccepted>()).ServerName);
    }

    [Fact]
    public async Task Termination_WithSniRoutes_RoutesByTheHandshakesServerName()
    {
        await using var api = LoopbackServer.Named();
        await using var web = LoopbackServer.Named();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(api.Address) { Pool = "api" }, new(web.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            Tls = new TlsOptions { Certificate = _certificate },
            Sni = new SniRoutingOptions { Routes = [new("api.example.com", "api")] },
        });

        Assert.Equal(api.Address, await AskAsync(balancer, "api.example.com"));
        Assert.Equal(web.Address, await AskAsync(balancer, "www.example.com"));
    }

    [Fact]
    public async Task AFailedHandshake_IsAnEvent_AndTheListenerGoesOn()
    {
        await using var backend = LoopbackServer.Named();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            Tls = new TlsOptions { Certificate = _certificate },
        });
        using var events = new EventRecorder(balancer.Events);

        Assert.Equal(string.Empty, await Loopback.AskAsync(balancer.ListenEndPoints[0])); // plain text to a TLS port

        var rejected = Assert.Single(await events.WaitForAsync<ConnectionRejected>());
        Assert.Equal(RejectionReason.TlsHandshakeFailed, rejected.Reason);
        Assert.Equal(0, backend.Accepted);
        Assert.Equal(backend.Address, await AskAsync(balancer, "api.example.com"));
    }

    [Fact]
    public async Task ASilentClient_IsCutAtTheHandshakeTimeout()
    {
        await using var backend = LoopbackServer.Named();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            Tls = new TlsOptions { Certificate = _certificate, HandshakeTimeout = TimeSpan.FromMilliseconds(300) },
        });
        using var events = new EventRecorder(balancer.Events);

        using var silent = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        Assert.Empty(await Loopback.ReadToEndAsync(silent));

        Assert.Equal(RejectionReason.TlsHandshakeFailed, Assert.Single(await events.WaitForAsync<ConnectionRejected>()).Reason);
        Assert.Equal(0, backend.Accepted);
    }

    [Fact]
    public async Task BackendTls_IsValidatedAgainstTheTrustedCa_AndAnUntrustedOrMisnamedBackendIsAFailedConnect()
    {
        await using var backend = Infrastructure.Tls.Server("secure", _certificate);
        var (certificatePem, _) = Infrastructure.Tls.WritePem(_certificate, _directory);

        async Task<(string Answer, TcpLoadBalancer Balancer)> ViaAsync(BackendTlsOptions tls)
        {
            var balancer = await Balancers.StartAsync(new LoadBalancerOptions
            {
                Backends = [new(backend.Address) { Tls = tls }],
                HealthCheck = Balancers.NoHealthChecks,
                MaxConnectAttempts = 1,
            });
            return (await Loopback.AskAsync(balancer.ListenEndPoints[0]), balancer);
        }

        var trusted = await ViaAsync(new BackendTlsOptions { ServerName = "api.example.com", TrustedCertificatesPath = certificatePem });
        await using (trusted.Balancer)
        {
            Assert.Equal("secure", trusted.Answer);
        }

        var unchecked_ = await ViaAsync(new BackendTlsOptions { ValidateCertificate = false });
        await using (unchecked_.Balancer)
        {
            Assert.Equal("secure", unchecked_.Answer);
        }

        foreach (var tls in new[]
        {
            new BackendTlsOptions { ServerName = "api.example.com" }, // the system's roots do not know it
            new BackendTlsOptions { ServerName = "db.example.com", TrustedCertificatesPath = certificatePem }, // not its name
        })
        {
            var balancer = await Balancers.StartAsync(new LoadBalancerOptions
            {
                Backends = [new(backend.Address) { Tls = tls }],
                HealthCheck = Balancers.NoHealthChecks,
                MaxConnectAttempts = 1,
            });
            await using (balancer)
            {
                using var events = new EventRecorder(balancer.Events);
                Assert.Equal(string.Empty, await Loopback.AskAsync(balancer.ListenEndPoints[0]));
                var failed = Assert.Single(await events.WaitForAsync<ConnectionFailed>());
                Assert.StartsWith($"TLS handshake with backend {backend.Address} failed:", failed.Message, StringComparison.Ordinal);
                Assert.Equal(1, balancer.Snapshot.Backends[0].FailedConnections);
            }
        }
    }

    [Fact]
    public async Task BackendTls_ClientsThatHalfCloseAtOnce_AllGetTheWholeAnswer()
    {
        // The half-close reaches the backend's TLS session while the backend's session tickets may still be
        // on their way, and OpenSSL then refuses close_notify ("shutdown while in init"): the relay must
        // still pass the half-close on with a FIN, not fail. A race, so it is asked for many times.
        await using var backend = Infrastructure.Tls.Server("secure", _certificate);
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address) { Tls = new BackendTlsOptions { ValidateCertificate = false } }],
            HealthCheck = Balancers.NoHealthChecks,
            MaxConnectAttempts = 1,
        });
        using var events = new EventRecorder(balancer.Events);

        for (var i = 0; i < 200; i++)
        {
            Assert.Equal("secure", await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        }

        var completed = await events.WaitForAsync<ConnectionCompleted>(200);
        // Which FIN the relay reads first is a race of its own; either way both ends closed cleanly.
        Assert.All(completed, c => Assert.Equal((0, 6), (c.BytesFromClient, c.BytesFromBackend)));
        Assert.All(completed, c => Assert.Contains(c.Reason, new[] { CompletionReason.ClientClosed, CompletionReason.BackendClosed }));
        Assert.Empty(events.OfType<ConnectionFailed>());
    }

    [Fact]
    public async Task MutualTls_TheBackendSeesTheBalancersClientCertificate()
    {
        using var client = Infrastructure.Tls.Certificate("balancer.internal");
        var (clientPem, clientKey) = Infrastructure.Tls.WritePem(client, _directory);
        var seen = new TaskCompletionSource<string?>();
        await using var backend = Infrastructure.Tls.MutualServer(_certificate, seen.SetResult);
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address) { Tls = new BackendTlsOptions { ValidateCertificate = false, ClientCertificatePath = clientPem, ClientKeyPath = clientKey } }],
            HealthCheck = Balancers.NoHealthChecks,
        });

        Assert.Equal(client.Thumbprint, await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        Assert.Equal(client.Thumbprint, await seen.Task.WaitAsync(Loopback.Timeout));
    }

    [Fact]
    public void Constructor_NamesTheCertificateFileAtFault_WhileValidationReadsNoFile()
    {
        var (certificatePem, _) = Infrastructure.Tls.WritePem(_certificate, _directory);
        var options = new LoadBalancerOptions { Listen = ["127.0.0.1:0"], Backends = [new("127.0.0.1:9")] };
        var missing = options with { Tls = new TlsOptions { CertificatePath = "/nonexistent/server.pem" } };
        var keyless = options with { Tls = new TlsOptions { CertificatePath = certificatePem } };
        var untrusted = options with { Backends = [new("127.0.0.1:9") { Tls = new BackendTlsOptions { TrustedCertificatesPath = "/nonexistent/ca.pem" } }] };

        // Validation is pure: files are read once, when the balancer builds what it runs on.
        Assert.All(new[] { missing, keyless, untrusted }, invalid => Assert.Empty(LoadBalancerOptionsValidator.Validate(invalid)));
        Assert.Contains(
            Errors(missing),
            error => error.StartsWith("Tls.CertificatePath '/nonexistent/server.pem' cannot be loaded:", StringComparison.Ordinal));
        Assert.Contains(
            Errors(keyless),
            error => error.StartsWith($"Tls.CertificatePath '{certificatePem}' cannot be loaded:", StringComparison.Ordinal)
                || error.Contains("has no private key", StringComparison.Ordinal));
        Assert.Contains(
            Errors(untrusted),
            error => error.StartsWith("Backends[0].Tls.TrustedCertificatesPath '/nonexistent/ca.pem' cannot be loaded:", StringComparison.Ordinal));

        static IReadOnlyList<string> Errors(LoadBalancerOptions options) =>
            Assert.Throws<LoadBalancerOptionsException>(() => new TcpLoadBalancer(options)).Errors;
    }

    private TlsOptions TerminationFrom(string source)
    {
        switch (source)
        {
            case "pem":
                var (certificate, key) = Infrastructure.Tls.WritePem(_certificate, _directory);
                return new TlsOptions { CertificatePath = certificate, KeyPath = key };
            case "pfx":
                var path = Path.Combine(_directory, "server.pfx");
                File.WriteAllBytes(path, _certificate.Export(X509ContentType.Pkcs12, "secret"));
                return new TlsOptions { CertificatePath = path, Password = "secret" };
            default:
                return new TlsOptions { Certificate = _certificate };
        }
    }

    private static async Task<string> AskAsync(TcpLoadBalancer balancer, string serverName)
    {
        using var socket = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await using var tls = await Infrastructure.Tls.HandshakeAsync(socket, serverName);
        await tls.ShutdownAsync();
        return System.Text.Encoding.ASCII.GetString(await Loopback.ReadToEndAsync(tls));
    }
}
