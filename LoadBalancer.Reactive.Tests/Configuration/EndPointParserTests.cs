using System.Net;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Tests.Configuration;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class EndPointParserTests
{
    [Theory]
    [InlineData("127.0.0.1:8080", "127.0.0.1:8080")]
    [InlineData("[::1]:443", "[::1]:443")]
    [InlineData("*:80", "0.0.0.0:80")]
    [InlineData("db.internal:5432", "db.internal:5432")]
    [InlineData("localhost:1", "localhost:1")]
    public void TryParse_ValidAddress_ParsesAndFormatsBack(string text, string formatted)
    {
        Assert.True(EndPointParser.TryParse(text, allowPortZero: false, out var endPoint, out var error), error);
        Assert.Equal(formatted, EndPointParser.Format(endPoint));
    }

    [Fact]
    public void TryParse_HostName_IsDnsEndPoint()
    {
        Assert.True(EndPointParser.TryParse("backend-1:80", allowPortZero: false, out var endPoint, out _));
        Assert.Equal(new DnsEndPoint("backend-1", 80), endPoint);
    }

    [Fact]
    public void TryParse_IPv4Shorthand_IsRejectedAsATypo()
    {
        // IPAddress.TryParse reads "10.1" as 10.0.0.1; nobody writing a backend means that.
        Assert.False(EndPointParser.TryParse("10.1:80", allowPortZero: false, out _, out var error));
        Assert.Equal("'10.1:80' has '10.1', which is not a full IPv4 address (a.b.c.d)", error);
    }

    [Theory]
    [InlineData("127.0.0.1:0", true, true)]
    [InlineData("127.0.0.1:0", false, false)]
    [InlineData("127.0.0.1:-1", true, false)]
    [InlineData(":80", true, false)]
    [InlineData("host:", true, false)]
    [InlineData(null, true, false)]
    public void TryParse_PortZero_OnlyWhereAllowed(string? text, bool allowPortZero, bool valid) =>
        Assert.Equal(valid, EndPointParser.TryParse(text, allowPortZero, out _, out _));
}
