using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Preface;

/// <summary>PROXY protocol over real sockets: headers sent to backends byte for byte, and read from trusted proxies only.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class ProxyProtocolLoopbackTests
{
    private static readonly IPAddress s_proxy = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress s_stranger = IPAddress.Parse("127.0.0.3");

    [Theory]
    [InlineData(ProxyProtocolVersion.V1)]
    [InlineData(ProxyProtocolVersion.V2)]
    public async Task SendProxy_TheBackendReadsTheHeaderThenEveryClientByte(ProxyProtocolVersion version)
    {
        await using var backend = Recording(out var received);
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address) { SendProxy = version }],
            HealthCheck = Balancers.NoHealthChecks,
        });
        var payload = Loopback.RandomBytes(256 * 1024, seed: 5);
        var listener = balancer.ListenEndPoints[0];

        using (var client = await Loopback.ConnectAsync(listener, s_proxy))
        {
            await Loopback.SendAllAsync(client, payload);
            client.Shutdown(SocketShutdown.Send);
            await Loopback.ReadToEndAsync(client);
            var port = ((IPEndPoint)client.LocalEndPoint!).Port;
            var bytes = await TakeAsync(received);

            var expected = version == ProxyProtocolVersion.V1
                ? Encoding.ASCII.GetBytes($"PROXY TCP4 127.0.0.2 127.0.0.1 {port} {listener.Port}\r\n")
                : [.. Convert.FromHexString("0D0A0D0A000D0A515549540A2111000C7F0000027F000001"), (byte)(port >> 8), (byte)port, (byte)(listener.Port >> 8), (byte)listener.Port];
            Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(bytes[..expected.Length]));
            Assert.Equal(SHA256.HashData(payload), SHA256.HashData(bytes.AsSpan(expected.Length)));
        }
    }

    [Fact]
    public async Task AcceptProxy_FromATrustedProxy_UsesTheRealClientForEventsAndAccessRules_AndRelaysOnlyWhatFollows()
    {
        await using var backend = Recording(out var received);
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            AcceptProxy = new AcceptProxyOptions { From = ["127.0.0.2"] },
            Clients = new ClientOptions { Deny = ["203.0.113.0/24"] },
        });
        using var events = new EventRecorder(balancer.Events);
        var listener = balancer.ListenEndPoints[0];

        await SendAsync(listener, s_proxy, "PROXY TCP4 198.51.100.9 192.0.2.1 5555 80\r\nhello");
        Assert.Equal("hello", Encoding.ASCII.GetString(await TakeAsync(received)));
        var accepted = Assert.Single(await events.WaitForAsync<ConnectionAccepted>());
        Assert.Equal("198.51.100.9:5555", accepted.Client.ToString());
        Assert.Equal(s_proxy, ((IPEndPoint)accepted.ProxiedBy!).Address);

        // The access rules see the client the header names, not the proxy.
        await SendAsync(listener, s_proxy, "PROXY TCP4 203.0.113.5 192.0.2.1 5555 80\r\nhello");
        var denied = Assert.Single(await events.WaitForAsync<ConnectionRejected>());
        Assert.Equal((RejectionReason.Denied, "203.0.113.5:5555"), (denied.Reason, denied.Client.ToString()));

        // A trusted proxy that sends no header is cut off, and says why.
        await SendAsync(listener, s_proxy, "GET / HTTP/1.1\r\n\r\n");
        var invalid = (await events.WaitForAsync<ConnectionRejected>(2))[1];
        Assert.Equal((RejectionReason.InvalidProxyHeader, s_proxy), (invalid.Reason, ((IPEndPoint)invalid.Client).Address));

        // Anyone else is taken as they are: a header they send is just bytes to relay.
        const string forged = "PROXY TCP4 10.0.0.1 192.0.2.1 5555 80\r\nhello";
        await SendAsync(listener, s_stranger, forged);
        Assert.Equal(forged, Encoding.ASCII.GetString(await TakeAsync(received)));
        Assert.Equal(s_stranger, ((IPEndPoint)(await events.WaitForAsync<ConnectionAccepted>(4))[3].Client).Address);
        Assert.Equal(2, backend.Accepted);
    }

    [Fact]
    public async Task TwoBalancers_TheFrontSendsV2_TheBackReadsIt_AndSeesTheOriginalClient()
    {
        await using var backend = LoopbackServer.Echo();
        await using var back = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            AcceptProxy = new AcceptProxyOptions { From = ["127.0.0.1/32"] },
        });
        await using var front = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(back.ListenEndPoints[0].ToString()) { SendProxy = ProxyProtocolVersion.V2 }],
            HealthCheck = Balancers.NoHealthChecks,
        });
        using var events = new EventRecorder(back.Events);
        var payload = Loopback.RandomBytes(1024 * 1024, seed: 9);

        using var client = await Loopback.ConnectAsync(front.ListenEndPoints[0], s_stranger);
        var sending = Task.Run(async () =>
        {
            await Loopback.SendAllAsync(client, payload);
            client.Shutdown(SocketShutdown.Send);
        });
        var (count, hash) = await Loopback.HashToEndAsync(client);
        await sending.WaitAsync(Loopback.Timeout);

        Assert.Equal((payload.Length, Convert.ToHexString(SHA256.HashData(payload))), (count, Convert.ToHexString(hash)));
        var accepted = Assert.Single(await events.WaitForAsync<ConnectionAccepted>());
        Assert.Equal(client.LocalEndPoint, accepted.Client);
    }

    private static async Task SendAsync(EndPoint listener, IPAddress from, string text)
    {
        using var client = await Loopback.ConnectAsync(listener, from);
        await Loopback.SendAllAsync(client, Encoding.ASCII.GetBytes(text));
        client.Shutdown(SocketShutdown.Send);
        await Loopback.ReadToEndAsync(client);
    }

    private static async Task<byte[]> TakeAsync(BlockingCollection<byte[]> received) =>
        await Task.Run(() => received.TryTake(out var bytes, Loopback.Timeout) ? bytes : throw new TimeoutException("the backend received nothing"));

    // A backend that reads each connection to its end, keeps what it read, and closes.
    private static LoopbackServer Recording(out BlockingCollection<byte[]> received)
    {
        var sink = new BlockingCollection<byte[]>();
        received = sink;
        return new LoopbackServer(async socket => sink.Add(await Loopback.ReadToEndAsync(socket)));
    }
}
