using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Configuration;

/// <summary>
/// Reconfiguring a running balancer over loopback, each live setting under load: relays opened before the change are
/// still open across it and complete byte for byte, while new connections follow the new settings.
/// </summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class ReconfigureLoopbackTests : IDisposable
{
    private const int OpenRelays = 5;
    private readonly string _directory = Directory.CreateTempSubdirectory("lb-reload-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Backends_ReplacedLive_NewConnectionsFollowTheNewSetAndWeights_OpenRelaysCompleteByteExact()
    {
        await using var a = LoopbackServer.Echo();
        await using var b = LoopbackServer.Echo();
        await using var c = LoopbackServer.Echo();
        var options = Options(a);
        await using var balancer = await Balancers.StartAsync(options);
        using var events = new EventRecorder(balancer.Events);
        var open = await OpenRelaysAsync(balancer, events);

        Assert.Empty(balancer.Reconfigure(options with { Backends = [new(b.Address), new(c.Address, weight: 0)] }));
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Backend == c.Address && e.Kind == MembershipChangeKind.Joined);
        await EchoNewAsync(balancer, 4);
        Assert.Empty(balancer.Reconfigure(options with { Backends = [new(b.Address, weight: 0), new(c.Address)] }));
        await events.WaitForAsync<BackendMembershipChanged>(2, e => e.Kind == MembershipChangeKind.Reweighted);
        await EchoNewAsync(balancer, 3);

        await FinishByteExactAsync(open);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Backend == a.Address && e.Kind == MembershipChangeKind.Left);
        var assigned = events.OfType<ConnectionAssigned>();
        Assert.Equal((OpenRelays, 4, 3), (assigned.Count(e => e.Backend == a.Address), assigned.Count(e => e.Backend == b.Address), assigned.Count(e => e.Backend == c.Address)));
        var changed = events.OfType<ConfigurationChanged>();
        Assert.Equal(2, changed.Count);
        Assert.All(changed, e => Assert.Equal(["Backends"], e.Applied));
    }

    [Fact]
    public async Task AccessRules_ChangedLive_RefuseNewClients_OpenRelaysCompleteByteExact()
    {
        await using var backend = LoopbackServer.Echo();
        var options = Options(backend);
        await using var balancer = await Balancers.StartAsync(options);
        using var events = new EventRecorder(balancer.Events);
        var open = await OpenRelaysAsync(balancer, events);

        balancer.Reconfigure(options with { Clients = new ClientOptions { Deny = ["127.0.0.0/8"] } });
        using (await Loopback.ConnectAsync(balancer.ListenEndPoints[0]))
        {
            Assert.Equal(RejectionReason.Denied, Assert.Single(await events.WaitForAsync<ConnectionRejected>()).Reason);
        }

        balancer.Reconfigure(options with { Clients = new ClientOptions { Listeners = [new ListenerAccess { Listen = "127.0.0.1:0", Allow = ["127.0.0.1/32"] }] } });
        await EchoNewAsync(balancer, 1);
        await FinishByteExactAsync(open);
        var changed = events.OfType<ConfigurationChanged>();
        Assert.Equal(["Clients:Deny"], changed[0].Applied);
        Assert.Equal(["Clients:Deny", "Clients:Listeners"], changed[1].Applied);
    }

    [Fact]
    public async Task Limits_ChangedLive_ApplyToNewConnections_OpenRelaysCompleteByteExact()
    {
        await using var backend = LoopbackServer.Echo();
        var options = Options(backend);
        await using var balancer = await Balancers.StartAsync(options);
        using var events = new EventRecorder(balancer.Events);
        var open = await OpenRelaysAsync(balancer, events);

        balancer.Reconfigure(options with { MaxConnections = OpenRelays });
        using (await Loopback.ConnectAsync(balancer.ListenEndPoints[0]))
        {
            Assert.Equal(RejectionReason.ConnectionLimitReached, Assert.Single(await events.WaitForAsync<ConnectionRejected>()).Reason);
        }

        // The open relays were admitted without a per-client limit, so they do not count against it: one more gets in.
        balancer.Reconfigure(options with { Clients = new ClientOptions { MaxConnections = 1 } });
        using var held = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await events.WaitForAsync<BackendConnected>(OpenRelays + 1);
        using (await Loopback.ConnectAsync(balancer.ListenEndPoints[0]))
        {
            await events.WaitForAsync<ConnectionRejected>(1, e => e.Reason == RejectionReason.ClientConnectionLimit);
        }

        await FinishByteExactAsync([.. open, held]);
    }

    [Fact]
    public async Task IdleTimeout_ChangedLive_CutsNewIdleConnections_WhileOlderRelaysKeepTheirs()
    {
        await using var backend = LoopbackServer.Echo();
        var options = Options(backend);
        await using var balancer = await Balancers.StartAsync(options);
        using var events = new EventRecorder(balancer.Events);
        var open = await OpenRelaysAsync(balancer, events);

        balancer.Reconfigure(options with { IdleTimeout = TimeSpan.FromMilliseconds(200), ConnectTimeout = TimeSpan.FromSeconds(2) });
        using var idle = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);

        var cut = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal(CompletionReason.IdleTimeout, cut.Reason);
        await FinishByteExactAsync(open);
        Assert.Equal(["ConnectTimeout", "IdleTimeout"], Assert.Single(events.OfType<ConfigurationChanged>()).Applied);
    }

    [Fact]
    public async Task HealthCheck_ChangedLive_ProbesWithTheNewSettings_OpenRelaysCompleteByteExact()
    {
        await using var probed = LoopbackServer.Echo();
        await using var other = LoopbackServer.Echo();
        // The echo answers PING with PING: expecting PONG it is down, expecting PING it is up again.
        var check = new HealthCheckOptions { Interval = TimeSpan.FromMilliseconds(100), Rise = 1, Fall = 1, Send = "PING\n", Expect = "PONG" };
        var options = Options(other) with
        {
            Backends = [new(other.Address) { HealthCheck = Balancers.NoHealthChecks }, new(probed.Address)],
            HealthCheck = check,
        };
        await using var balancer = await Balancers.StartAsync(options);
        using var events = new EventRecorder(balancer.Events);
        await events.WaitForAsync<BackendHealthChanged>(1, e => e.Backend == probed.Address && !e.Healthy);
        var open = await OpenRelaysAsync(balancer, events);

        Assert.Empty(balancer.Reconfigure(options with { HealthCheck = check with { Expect = "PING" } }));
        await events.WaitForAsync<BackendHealthChanged>(1, e => e.Backend == probed.Address && e.Healthy);
        await EchoNewAsync(balancer, 1);

        Assert.Equal(probed.Address, events.OfType<ConnectionAssigned>().Last().Backend);
        await FinishByteExactAsync(open);
        Assert.Equal(["HealthCheck:Expect"], Assert.Single(events.OfType<ConfigurationChanged>()).Applied);
    }

    [Fact]
    public async Task TlsCertificate_ReplacedLive_NewHandshakesSeeIt_AConnectionOpenedBeforeKeepsWorking()
    {
        using var first = Infrastructure.Tls.Certificate("api.example.com");
        using var second = Infrastructure.Tls.Certificate("api.example.com");
        await using var backend = LoopbackServer.Echo();
        var options = Options(backend) with { Tls = new TlsOptions { Certificate = first } };
        await using var balancer = await Balancers.StartAsync(options);
        using var events = new EventRecorder(balancer.Events);
        using var before = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await using var beforeTls = await Infrastructure.Tls.HandshakeAsync(before, "api.example.com", first);
        await events.WaitForAsync<BackendConnected>();

        Assert.Empty(balancer.Reconfigure(options with { Tls = new TlsOptions { Certificate = second } }));

        Assert.Equal(second.Thumbprint, await ThumbprintOfNewHandshakeAsync(balancer));
        await EchoByteExactAsync(beforeTls, seed: 1);
        Assert.Equal(first.Thumbprint, new X509Certificate2(beforeTls.RemoteCertificate!).Thumbprint);
        Assert.Equal(["Tls:Certificate"], Assert.Single(events.OfType<ConfigurationChanged>()).Applied);
    }

    [Fact]
    public async Task TlsCertificateFile_RenewedInPlace_IsLoadedAgainByReconfigure_NewHandshakesSeeIt()
    {
        using var first = Infrastructure.Tls.Certificate("api.example.com");
        using var second = Infrastructure.Tls.Certificate("api.example.com");
        var (certificatePath, keyPath) = (Path.Combine(_directory, "server.crt"), Path.Combine(_directory, "server.key"));
        WritePem(first, certificatePath, keyPath);
        await using var backend = LoopbackServer.Echo();
        var options = Options(backend) with { Tls = new TlsOptions { CertificatePath = certificatePath, KeyPath = keyPath } };
        await using var balancer = await Balancers.StartAsync(options);
        using var events = new EventRecorder(balancer.Events);
        using var before = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await using var beforeTls = await Infrastructure.Tls.HandshakeAsync(before, "api.example.com", first);

        Assert.Empty(balancer.Reconfigure(options));
        Assert.Empty(events.OfType<ConfigurationChanged>());
        WritePem(second, certificatePath, keyPath);
        Assert.Empty(balancer.Reconfigure(options));

        Assert.Equal(second.Thumbprint, await ThumbprintOfNewHandshakeAsync(balancer));
        await EchoByteExactAsync(beforeTls, seed: 2);
        Assert.Equal(["Tls:CertificatePath"], (await events.WaitForAsync<ConfigurationChanged>()).Single().Applied);
    }

    [Fact]
    public async Task SettingsThatNeedARestart_AreReturnedByKey_AndKeepTheirRunningValue()
    {
        await using var backend = LoopbackServer.Echo();
        var options = Options(backend);
        await using var balancer = await Balancers.StartAsync(options);
        using var events = new EventRecorder(balancer.Events);
        var listening = balancer.ListenEndPoints[0];

        var restart = balancer.Reconfigure(options with { Listen = ["127.0.0.1:1"], Strategy = "round-robin", MaxConnectAttempts = 1 });

        Assert.Equal(["Listen", "Strategy"], restart);
        Assert.Equal(listening, Assert.Single(balancer.ListenEndPoints));
        await EchoNewAsync(balancer, 1);
        var changed = Assert.Single(await events.WaitForAsync<ConfigurationChanged>());
        Assert.Equal(["MaxConnectAttempts"], changed.Applied);
        Assert.Equal(["Listen", "Strategy"], changed.RestartNeeded);
    }

    [Fact]
    public async Task InvalidOptions_ThrowWithEveryProblem_AndNothingIsApplied()
    {
        await using var backend = LoopbackServer.Echo();
        var options = Options(backend);
        await using var balancer = await Balancers.StartAsync(options);
        using var events = new EventRecorder(balancer.Events);

        var exception = Assert.Throws<LoadBalancerOptionsException>(() => balancer.Reconfigure(options with
        {
            Backends = [new("127.0.0.1:99999")],
            MaxConnections = -1,
            Clients = new ClientOptions { Deny = ["127.0.0.0/8"] },
        }));

        Assert.Equal(2, exception.Errors.Count);
        await EchoNewAsync(balancer, 1);
        Assert.Empty(events.OfType<ConfigurationChanged>());
        Assert.Equal(backend.Address, Assert.Single(balancer.Snapshot.Backends).Address);
    }

    [Fact]
    public async Task BeforeStart_TheReconfigurationIsFoldedFirst_AndTheBalancerStartsWithIt()
    {
        await using var configured = LoopbackServer.Named();
        await using var replacement = LoopbackServer.Named();
        var options = Options(configured);
        await using var balancer = new TcpLoadBalancer(options);
        using var events = new EventRecorder(balancer.Events);

        Assert.Empty(balancer.Reconfigure(options with { Backends = [new(replacement.Address)] }));
        await balancer.StartAsync().WaitAsync(Loopback.Timeout);

        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Backend == configured.Address && e.Kind == MembershipChangeKind.Left);
        Assert.Equal(replacement.Address, await Loopback.AskAsync(balancer.ListenEndPoints[0]));
    }

    private static LoadBalancerOptions Options(LoopbackServer backend) => new()
    {
        Listen = ["127.0.0.1:0"],
        Backends = [new(backend.Address)],
        HealthCheck = Balancers.NoHealthChecks,
    };

    // Relays opened before a change, each with a first round trip done, so they are relayed (not just connected).
    private static async Task<List<Socket>> OpenRelaysAsync(TcpLoadBalancer balancer, EventRecorder events)
    {
        var open = new List<Socket>();
        for (var i = 0; i < OpenRelays; i++)
        {
            var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
            await Loopback.SendAllAsync(client, "hi"u8.ToArray());
            var reply = new byte[2];
            for (var read = 0; read < reply.Length;)
            {
                read += await client.ReceiveAsync(reply.AsMemory(read)).AsTask().WaitAsync(Loopback.Timeout);
            }

            open.Add(client);
        }

        await events.WaitForAsync<BackendConnected>(OpenRelays);
        return open;
    }

    // Each relay sends a megabyte after the change and half-closes; the echo must come back whole.
    private static async Task FinishByteExactAsync(IReadOnlyList<Socket> open)
    {
        await Task.WhenAll(open.Select(async (client, i) =>
        {
            using (client)
            {
                var payload = Loopback.RandomBytes(1024 * 1024, seed: 40 + i);
                var sending = Loopback.SendAllAsync(client, payload).ContinueWith(_ => client.Shutdown(SocketShutdown.Send), TaskScheduler.Default);
                var (count, hash) = await Loopback.HashToEndAsync(client);
                await sending.WaitAsync(Loopback.Timeout);
                Assert.Equal((payload.Length, Convert.ToHexString(SHA256.HashData(payload))), ((int)count, Convert.ToHexString(hash)));
            }
        })).WaitAsync(Loopback.Timeout);
    }

    private static async Task EchoNewAsync(TcpLoadBalancer balancer, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
            await Loopback.SendAllAsync(client, "x"u8.ToArray());
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal("x"u8.ToArray(), await Loopback.ReadToEndAsync(client));
        }
    }

    private static async Task EchoByteExactAsync(System.Net.Security.SslStream tls, int seed)
    {
        var payload = Loopback.RandomBytes(256 * 1024, seed);
        var sending = Task.Run(async () =>
        {
            await tls.WriteAsync(payload);
            await tls.ShutdownAsync();
        });
        var echoed = await Loopback.ReadToEndAsync(tls);
        await sending.WaitAsync(Loopback.Timeout);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(payload)), Convert.ToHexString(SHA256.HashData(echoed)));
    }

    private static async Task<string> ThumbprintOfNewHandshakeAsync(TcpLoadBalancer balancer)
    {
        using var socket = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await using var tls = await Infrastructure.Tls.HandshakeAsync(socket, "api.example.com");
        return new X509Certificate2(tls.RemoteCertificate!).Thumbprint;
    }

    private static void WritePem(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }
}
