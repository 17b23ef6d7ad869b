using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Discovery;

namespace LoadBalancer.Reactive.Tests.Discovery;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class EtcdBackendEntryTests
{
    [Theory]
    [InlineData("""{"address":"10.0.0.5:8080","weight":3,"state":"drain","pool":"web"}""", "10.0.0.5:8080", 3, BackendState.Draining, "web")]
    [InlineData("""{"address":"10.0.0.5:8080"}""", "10.0.0.5:8080", 1, BackendState.Active, null)]
    [InlineData("""{"state":"disabled"}""", "10.0.0.9:80", 1, BackendState.Disabled, null)]
    [InlineData("""{"address":"db.internal:5432","state":"ACTIVE","weight":0}""", "db.internal:5432", 0, BackendState.Active, null)]
    public void TryParse_ValidValue_ReadsTheBackend(string value, string address, int weight, BackendState state, string? pool)
    {
        Assert.True(EtcdBackendEntry.TryParse("/lb/backends/10.0.0.9:80", value, out var backend, out var error), error);
        Assert.Equal(new BackendOptions { Address = address, Weight = weight, State = state, Pool = pool }, backend);
    }

    [Theory]
    [InlineData("not json", "not JSON")]
    [InlineData("[1,2]", "JSON object")]
    [InlineData("""{"address":"10.0.0.5:8080","weight":"heavy"}""", "weight")]
    [InlineData("""{"address":"10.0.0.5:8080","weight":20000}""", "eight")]
    [InlineData("""{"address":"10.0.0.5:8080","state":"asleep"}""", "'asleep'")]
    [InlineData("""{"address":"10.0.0.5"}""", "10.0.0.5")]
    [InlineData("""{"address":7}""", "address must be a string")]
    [InlineData("""{"address":"10.0.0.5:8080","state":2}""", "state must be a string")]
    [InlineData("""{"address":"10.0.0.5:8080","state":null}""", "state must be a string")]
    [InlineData("""{"address":"10.0.0.5:8080","pool":["web"]}""", "pool must be a string")]
    [InlineData("""{"address":"10.0.0.5:8080","maxConnections":10}""", "'maxConnections' is not a backend setting")]
    public void TryParse_BadValue_NamesTheKeyAndTheProblem(string value, string problem)
    {
        Assert.False(EtcdBackendEntry.TryParse("/lb/backends/x", value, out _, out var error));
        Assert.Contains("'/lb/backends/x'", error);
        Assert.Contains(problem, error);
    }

    [Fact]
    public void Write_ThenTryParse_RoundTrips()
    {
        var backend = new BackendOptions { Address = "[::1]:8080", Weight = 7, State = BackendState.Disabled, Pool = "api" };

        Assert.True(EtcdBackendEntry.TryParse("/lb/backends/k", EtcdBackendEntry.Write(backend), out var read, out _));
        Assert.Equal(backend, read);
        Assert.Contains("\"state\":\"disabled\"", EtcdBackendEntry.Write(backend));
    }

    [Theory]
    [InlineData(1, 250)]
    [InlineData(2, 500)]
    [InlineData(5, 4000)]
    [InlineData(6, 5000)]
    [InlineData(60, 5000)]
    public void Backoff_DoublesFromAQuarterSecondUpToFive(int failures, int milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), EtcdDiscovery.Backoff(failures));

    [Fact]
    public void Keys_UnderThePrefix_WithOrWithoutItsSlash()
    {
        Assert.Equal("/lb/backends/", EtcdKeys.Backends("/lb/"));
        Assert.Equal("/lb/instances/", EtcdKeys.Instances("/lb"));
        Assert.Equal("/lb/backends/10.0.0.1:80", EtcdKeys.Backend("/lb", "10.0.0.1:80"));
        Assert.Equal("/lb/backends0", EtcdConnection.RangeEnd("/lb/backends/").ToStringUtf8());
    }
}
