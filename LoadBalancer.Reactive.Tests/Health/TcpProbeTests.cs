using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Health;
using LoadBalancer.Reactive.Preface;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Health;

/// <summary>One probe against real loopback servers: plain, behind a PROXY header, over TLS.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class TcpProbeTests : IDisposable
{
    private static readonly HealthCheckOptions s_connectOnly = new() { Timeout = TimeSpan.FromSeconds(5) };
    private static readonly HealthCheckOptions s_ping = s_connectOnly with { Send = "PING\r\n", Expect = "+PONG" };

    private readonly X509Certificate2 _certificate = Infrastructure.Tls.Certificate("api.example.com");

    public void Dispose() => _certificate.Dispose();

    [Fact]
    public async Task ProbeAsync_ListeningBackend_IsHealthy()
    {
        await using var backend = LoopbackServer.Holding();

        Assert.True(await Probe(backend.EndPoint, s_connectOnly));
    }

    [Fact]
    public async Task ProbeAsync_RefusingBackend_IsUnhealthy()
    {
        var (holder, refusing) = Loopback.RefusingEndPoint();
        using var _ = holder;

        Assert.False(await Probe(refusing, s_connectOnly));
    }

    [Theory]
    [InlineData("+PONG\r\n", true)]
    [InlineData("-ERR not ready\r\n", false)]
    [InlineData("", false)]
    public async Task ProbeAsync_SendAndExpect_ChecksTheReplyPrefix(string reply, bool healthy)
    {
        var asked = new TaskCompletionSource<string>();
        await using var backend = new LoopbackServer(async socket =>
        {
            var buffer = new byte[64];
            var read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
            asked.TrySetResult(Encoding.UTF8.GetString(buffer, 0, read));
            await Loopback.SendAllAsync(socket, Encoding.UTF8.GetBytes(reply));
            socket.Shutdown(SocketShutdown.Send);
        });

        var result = await Probe(backend.EndPoint, s_connectOnly with { Send = "PING\r\n", Expect = "+PONG" });

        Assert.Equal(healthy, result);
        Assert.Equal("PING\r\n", await asked.Task.WaitAsync(Loopback.Timeout));
    }

    [Fact]
    public async Task ProbeAsync_BackendThatNeverAnswers_IsUnhealthyAtExactlyTheTimeoutInVirtualTime()
    {
        // Connects fine, then says nothing: only the probe's timeout can end it.
        await using var silent = LoopbackServer.Holding();
        var scheduler = new TestScheduler();
        var probing = TcpProbe.ProbeAsync(
            Define(silent.EndPoint), s_connectOnly with { Timeout = TimeSpan.FromSeconds(1), Send = "PING\r\n", Expect = "+PONG" }, scheduler, default);
        await Loopback.WaitUntilAsync(() => silent.Accepted == 1, "the probe has connected");

        scheduler.AdvanceBy(TimeSpan.FromSeconds(1).Ticks - 1);
        await Task.Delay(50);
        Assert.False(probing.IsCompleted);

        scheduler.AdvanceBy(1);
        Assert.False(await probing.WaitAsync(Loopback.Timeout));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ProbeAsync_TlsBackendWithATrustedCertificate_IsHealthy_SendAndExpectGoingOverTls(bool ping)
    {
        var backend = new ProbedBackend(_certificate, expectsProxy: false);
        await using var server = backend.Listen();

        Assert.True(await Probe(Define(server.EndPoint, tls: Trusting(_certificate)), ping ? s_ping : s_connectOnly));

        var probe = await backend.Probes.Task.WaitAsync(Loopback.Timeout);
        Assert.True(probe.Handshaken);
        Assert.Equal(ping ? "PING\r\n" : string.Empty, probe.Said);
    }

    [Theory]
    [InlineData("api.example.com", false)] // the system's roots do not know a self-signed certificate
    [InlineData("db.example.com", true)] // trusted, but not that name
    public async Task ProbeAsync_TlsBackendWhoseCertificateDoesNotValidate_IsUnhealthy_WhereAPlainProbeSaysHealthy(string serverName, bool trust)
    {
        var backend = new ProbedBackend(_certificate, expectsProxy: false);
        await using var server = backend.Listen();
        var tls = trust ? Trusting(_certificate) with { ServerName = serverName } : new BackendTlsOptions { ServerName = serverName };

        Assert.False(await Probe(Define(server.EndPoint, tls: tls), s_connectOnly));
        Assert.True(await Probe(Define(server.EndPoint), s_connectOnly));
    }

    [Fact]
    public async Task ProbeAsync_TlsBackendThatNeverAnswersTheHandshake_IsUnhealthyAtExactlyTheTimeoutInVirtualTime()
    {
        // Accepts and says nothing: the ClientHello goes unanswered until the probe's timeout ends it.
        await using var silent = LoopbackServer.Holding();
        var scheduler = new TestScheduler();
        var probing = TcpProbe.ProbeAsync(
            Define(silent.EndPoint, tls: Trusting(_certificate)), s_connectOnly with { Timeout = TimeSpan.FromSeconds(1) }, scheduler, default);
        await Loopback.WaitUntilAsync(() => silent.Accepted == 1, "the probe has connected");

        scheduler.AdvanceBy(TimeSpan.FromSeconds(1).Ticks - 1);
        await Task.Delay(50);
        Assert.False(probing.IsCompleted);

        scheduler.AdvanceBy(1);
        Assert.False(await probing.WaitAsync(Loopback.Timeout));
    }

    [Theory]
    [InlineData(ProxyProtocolVersion.V1, false, "PROXY UNKNOWN\r\n")]
    [InlineData(ProxyProtocolVersion.V2, false, "0D0A0D0A000D0A515549540A 20 00 0000")]
    [InlineData(ProxyProtocolVersion.V1, true, "PROXY UNKNOWN\r\n")]
    [InlineData(ProxyProtocolVersion.V2, true, "0D0A0D0A000D0A515549540A 20 00 0000")]
    public async Task ProbeAsync_BackendSentAProxyHeader_ReceivesUnknownOrLocalFirst_AndIsHealthy(ProxyProtocolVersion version, bool overTls, string expected)
    {
        var backend = new ProbedBackend(overTls ? _certificate : null, expectsProxy: true);
        await using var server = backend.Listen();

        Assert.True(await Probe(Define(server.EndPoint, version, overTls ? Trusting(_certificate) : null), s_ping));

        var probe = await backend.Probes.Task.WaitAsync(Loopback.Timeout);
        var header = Assert.IsType<ProxyHeader>(probe.Header);
        Assert.Equal((version == ProxyProtocolVersion.V1 ? 1 : 2, null, null), (header.Version, header.Source, header.Destination));
        var bytes = version == ProxyProtocolVersion.V1 ? Encoding.ASCII.GetBytes(expected) : Convert.FromHexString(expected.Replace(" ", string.Empty, StringComparison.Ordinal));
        Assert.Equal(bytes, probe.HeaderBytes);
        Assert.Equal((overTls, "PING\r\n"), (probe.Handshaken, probe.Said));
    }

    private static Task<bool> Probe(BackendDefinition backend, HealthCheckOptions options) =>
        TcpProbe.ProbeAsync(backend, options, System.Reactive.Concurrency.Scheduler.Default, default).WaitAsync(Loopback.Timeout);

    private static Task<bool> Probe(IPEndPoint endPoint, HealthCheckOptions options) => Probe(Define(endPoint), options);

    // The backend as a balancer defines it: the same definition its connections and its probes use.
    private static BackendDefinition Define(IPEndPoint endPoint, ProxyProtocolVersion sendProxy = ProxyProtocolVersion.None, BackendTlsOptions? tls = null)
    {
        var errors = new List<string>();
        var backend = BalancerModel.Define(
            new BackendOptions(endPoint.ToString()) { SendProxy = sendProxy, Tls = tls }, s_connectOnly, "Backends[0]", errors);
        Assert.Empty(errors);
        return backend;
    }

    private static BackendTlsOptions Trusting(X509Certificate2 certificate) =>
        new() { ServerName = "api.example.com", TrustedCertificates = [X509CertificateLoader.LoadCertificate(certificate.RawData)] };

    /// <summary>What a backend saw of one probe.</summary>
    private sealed record ProbeSeen(ProxyHeader? Header, byte[] HeaderBytes, bool Handshaken, string Said);

    /// <summary>
    /// A backend that checks what a probe sends: a PROXY header first when it expects one, then a TLS handshake
    /// when it has a certificate, then "PING\r\n" (answered "+PONG\r\n") or nothing, until the probe closes.
    /// </summary>
    private sealed class ProbedBackend(X509Certificate2? certificate, bool expectsProxy)
    {
        public TaskCompletionSource<ProbeSeen> Probes { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LoopbackServer Listen() => new(async socket =>
        {
            try
            {
                Probes.TrySetResult(await ServeAsync(socket));
            }
            catch (Exception exception)
            {
                // A refused certificate ends here, as some tests mean it to; the others see the failure.
                Probes.TrySetException(exception);
            }
        });

        private async Task<ProbeSeen> ServeAsync(Socket socket)
        {
            var (header, headerBytes) = expectsProxy ? await ReadHeaderAsync(socket) : (null, []);
            await using var network = new NetworkStream(socket, ownsSocket: false);
            await using var tls = certificate is null ? null : new SslStream(network, leaveInnerStreamOpen: true);
            if (tls is not null)
            {
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }).WaitAsync(Loopback.Timeout);
            }

            Stream stream = tls is null ? network : tls;
            var said = new MemoryStream();
            var buffer = new byte[1024];
            var answered = false;
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer).AsTask().WaitAsync(Loopback.Timeout)) > 0)
                {
                    said.Write(buffer, 0, read);
                    if (Encoding.ASCII.GetString(said.ToArray()) == "PING\r\n")
                    {
                        await stream.WriteAsync(Encoding.ASCII.GetBytes("+PONG\r\n")).AsTask().WaitAsync(Loopback.Timeout);
                        answered = true;
                    }
                }
            }
            catch (IOException) when (answered)
            {
                // The probe read the "+PONG" it expects and closed with "\r\n" unread: a reset, and its verdict made.
            }

            return new ProbeSeen(header, headerBytes, tls is not null, Encoding.ASCII.GetString(said.ToArray()));
        }

        // One byte at a time, so nothing after the header (the ClientHello) is taken from the TLS handshake.
        private static async Task<(ProxyHeader? Header, byte[] Bytes)> ReadHeaderAsync(Socket socket)
        {
            var bytes = new List<byte>();
            var one = new byte[1];
            while (await socket.ReceiveAsync(one.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Loopback.Timeout) == 1)
            {
                bytes.Add(one[0]);
                var status = ProxyHeaderParser.Parse(new ReadOnlySequence<byte>([.. bytes]), out var header, out var error);
                Assert.True(status != PrefaceStatus.Invalid, error);
                if (status == PrefaceStatus.Parsed)
                {
                    return (header, [.. bytes]);
                }
            }

            return (null, [.. bytes]);
        }
    }
}
