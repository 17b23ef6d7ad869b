using System.Net;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Tests.Configuration;

/// <summary>The running balancer's backend definitions, by address.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class BackendCatalogTests
{
    private static readonly HealthCheckOptions s_healthCheck = new();

    [Fact]
    public void Find_ConfiguredBackend_IgnoresTheCaseOfItsAddress()
    {
        var backend = Definition("Backend.Internal:80");
        var catalog = new BackendCatalog([backend]);

        Assert.Same(backend, catalog.Find("backend.internal:80"));
        Assert.Null(catalog.Find("other.internal:80"));
    }

    [Fact]
    public void Put_ExistingAddress_ReplacesItsDefinitionAndLeavesTheOthers()
    {
        var first = Definition("10.0.0.1:80");
        var second = Definition("10.0.0.2:80");
        var catalog = new BackendCatalog([first, second]);
        var replacement = Definition("10.0.0.1:80") with { SendProxy = ProxyProtocolVersion.V1 };

        catalog.Put(replacement);

        Assert.Same(replacement, catalog.Find("10.0.0.1:80"));
        Assert.Same(second, catalog.Find("10.0.0.2:80"));
    }

    private static BackendDefinition Definition(string address) =>
        new(address, new DnsEndPoint(address.Split(':')[0], 80), ProxyProtocolVersion.None, Tls: null, s_healthCheck);
}
