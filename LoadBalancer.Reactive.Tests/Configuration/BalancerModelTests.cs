using System.Net;
using System.Security.Cryptography.X509Certificates;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Tests.Configuration;

/// <summary>Building what a balancer runs on: pure checks first, then files loaded, each problem named by its field.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class BalancerModelTests
{
    private const string A = "10.0.0.1:80";

    private static readonly HealthCheckOptions s_defaultHealthCheck = new();

    private readonly string _missing = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}");

    [Fact]
    public void TryBuild_InvalidListenAndAMissingCertificate_ReportsOnlyTheValidationError()
    {
        var options = new LoadBalancerOptions
        {
            Listen = ["nowhere"],
            Backends = [new(A)],
            Tls = new TlsOptions { CertificatePath = Path.Combine(_missing, "server.pfx") },
        };

        var (model, errors) = BalancerModel.TryBuild(options);

        Assert.Null(model);
        Assert.Equal(["Listen[0] 'nowhere' is not HOST:PORT."], errors);
    }

    [Fact]
    public void TryBuild_UnloadableFiles_NamesEachByItsField()
    {
        var certificate = Path.Combine(_missing, "server.pfx");
        var bundle = Path.Combine(_missing, "ca.pem");
        var options = new LoadBalancerOptions
        {
            Listen = ["127.0.0.1:0"],
            Backends = [new(A), new("10.0.0.2:443") { Tls = new BackendTlsOptions { TrustedCertificatesPath = bundle } }],
            Tls = new TlsOptions { CertificatePath = certificate },
        };

        var (model, errors) = BalancerModel.TryBuild(options);

        Assert.Null(model);
        Assert.Equal(
            [
                $"Tls.CertificatePath '{certificate}' cannot be loaded: {LoadError(() => X509CertificateLoader.LoadPkcs12FromFile(certificate, password: null))}",
                $"Backends[1].Tls.TrustedCertificatesPath '{bundle}' cannot be loaded: {LoadError(() => new X509Certificate2Collection().ImportFromPemFile(bundle))}",
            ],
            errors);
    }

    [Fact]
    public void TryBuild_ValidOptions_DefinesEveryBackendInOrder()
    {
        var options = new LoadBalancerOptions { Listen = ["127.0.0.1:0"], Backends = [new(A), new("backend.internal:8080")] };

        var (model, errors) = BalancerModel.TryBuild(options);

        Assert.Empty(errors);
        Assert.Same(options, model!.Options);
        Assert.Null(model.Termination);
        Assert.Equal([A, "backend.internal:8080"], model.Backends.Select(backend => backend.Address));
    }

    [Fact]
    public void TryBuild_WithoutListenWhenNotRequired_Builds()
    {
        var (model, errors) = BalancerModel.TryBuild(new LoadBalancerOptions { Backends = [new(A)] }, requireListen: false);

        Assert.Empty(errors);
        Assert.NotNull(model);
    }

    [Fact]
    public void Define_IPAddress_ParsesItsEndPointAndTakesTheDefaultHealthCheck()
    {
        var errors = new List<string>();

        var definition = BalancerModel.Define(new BackendOptions(A) { SendProxy = ProxyProtocolVersion.V2 }, s_defaultHealthCheck, "Backends[0]", errors);

        Assert.Empty(errors);
        Assert.Equal(A, definition.Address);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 80), definition.EndPoint);
        Assert.Equal(ProxyProtocolVersion.V2, definition.SendProxy);
        Assert.Null(definition.Tls);
        Assert.Same(s_defaultHealthCheck, definition.HealthCheck);
    }

    [Fact]
    public void Define_HostName_KeepsItToResolveAtEachConnectAndKeepsItsOwnHealthCheck()
    {
        var own = new HealthCheckOptions { Rise = 1, Fall = 1 };
        var errors = new List<string>();

        var definition = BalancerModel.Define(new BackendOptions("backend.internal:8443") { HealthCheck = own }, s_defaultHealthCheck, "Backends[0]", errors);

        Assert.Empty(errors);
        Assert.Equal(new DnsEndPoint("backend.internal", 8443), definition.EndPoint);
        Assert.Same(own, definition.HealthCheck);
    }

    [Fact]
    public void Define_Tls_TargetsTheHostOrTheServerNameGiven()
    {
        var errors = new List<string>();

        var byHost = BalancerModel.Define(new BackendOptions("backend.internal:443") { Tls = new() }, s_defaultHealthCheck, "Backends[0]", errors);
        var byName = BalancerModel.Define(
            new BackendOptions("10.0.0.2:443") { Tls = new() { ServerName = "api.example" } }, s_defaultHealthCheck, "Backends[1]", errors);

        Assert.Empty(errors);
        Assert.Equal("backend.internal", byHost.Tls!.TargetHost);
        Assert.Equal("api.example", byName.Tls!.TargetHost);
    }

    // What loading a missing file says, as the runtime words it on this machine.
    private static string LoadError(Action load) => Assert.ThrowsAny<Exception>(load).Message;
}
