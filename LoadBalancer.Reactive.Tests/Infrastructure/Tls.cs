using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LoadBalancer.Reactive.Tests.Infrastructure;

/// <summary>TLS for tests: certificates made on the spot, real ClientHellos, and TLS clients and servers over loopback.</summary>
public static class Tls
{
    /// <summary>A self-signed server certificate for <paramref name="names"/>, with its private key, usable by SslStream.</summary>
    public static X509Certificate2 Certificate(params string[] names)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            san.AddDnsName(name);
        }

        request.CertificateExtensions.Add(san.Build());
        // Server and client authentication, so one helper makes both kinds.
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        // Round-tripped through PKCS#12 so the key is usable by SslStream on Linux.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), password: null);
    }

    /// <summary>Writes <paramref name="certificate"/> as PEM files (certificate, key) in <paramref name="directory"/>.</summary>
    public static (string Certificate, string Key) WritePem(X509Certificate2 certificate, string directory)
    {
        var certificatePath = Path.Combine(directory, $"{certificate.Thumbprint}.crt");
        var keyPath = Path.Combine(directory, $"{certificate.Thumbprint}.key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }

    /// <summary>A self-signed certificate for <c>localhost</c> as PEM files in a temporary directory, all gone when disposed.</summary>
    public sealed class PemFiles : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("lb-pem-").FullName;

        public PemFiles()
        {
            Certificate = Tls.Certificate("localhost");
            (CertificatePath, KeyPath) = WritePem(Certificate, _directory);
        }

        public X509Certificate2 Certificate { get; }

        public string CertificatePath { get; }

        public string KeyPath { get; }

        public void Dispose()
        {
            Certificate.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }

    /// <summary>A TLS server that requires a client certificate and reports its thumbprint, then closes.</summary>
    public static LoopbackServer MutualServer(X509Certificate2 certificate, Action<string?> clientThumbprint) => new(async socket =>
    {
        await using var stream = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await stream.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificate = certificate,
            ClientCertificateRequired = true,
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        }).WaitAsync(Loopback.Timeout);
        var thumbprint = stream.RemoteCertificate is { } remote ? new X509Certificate2(remote).Thumbprint : null;
        clientThumbprint(thumbprint);
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(thumbprint ?? "none"));
        await stream.ShutdownAsync();
        await DrainAsync(stream);
    });

    // Reads until the peer closes, so closing never finds unread bytes (which would make it a reset).
    private static async Task DrainAsync(Stream stream)
    {
        try
        {
            await stream.CopyToAsync(Stream.Null).WaitAsync(Loopback.Timeout);
        }
        catch (IOException)
        {
            // The peer reset or closed without close_notify: nothing left to drain.
        }
    }

    /// <summary>The ClientHello a real SslStream client sends for <paramref name="serverName"/> (null: no SNI).</summary>
    public static async Task<byte[]> CaptureClientHelloAsync(string? serverName, SslProtocols protocols = SslProtocols.None)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!).WaitAsync(Loopback.Timeout);
        using var server = await listener.AcceptAsync().WaitAsync(Loopback.Timeout);

        await using var stream = new SslStream(new NetworkStream(client, ownsSocket: false));
        var handshake = stream.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            // An IP address as the target host sends no server_name extension.
            TargetHost = serverName ?? "127.0.0.1",
            EnabledSslProtocols = protocols,
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });

        var received = new List<byte>();
        var buffer = new byte[64 * 1024];
        do
        {
            var read = await server.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Loopback.Timeout);
            received.AddRange(buffer.AsSpan(0, read).ToArray());
        }
        while (received.Count < 5 || received.Count < 5 + ((received[3] << 8) | received[4]));

        server.Close();
        await Assert.ThrowsAnyAsync<Exception>(() => handshake.WaitAsync(Loopback.Timeout));
        return [.. received];
    }

    /// <summary>A TLS server on loopback that answers each connection with <paramref name="name"/>, then closes.</summary>
    public static LoopbackServer Server(string name, X509Certificate2 certificate) => new(async socket =>
    {
        await using var stream = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await stream.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }).WaitAsync(Loopback.Timeout);
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(name));
        await stream.ShutdownAsync();
        await DrainAsync(stream);
    });

    /// <summary>
    /// A client's TLS handshake over <paramref name="socket"/> (which it does not own), asking for
    /// <paramref name="serverName"/>; it trusts exactly <paramref name="expected"/>, or any certificate without one.
    /// </summary>
    public static async Task<SslStream> HandshakeAsync(
        Socket socket, string serverName, X509Certificate2? expected = null, SslProtocols protocols = SslProtocols.None)
    {
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            EnabledSslProtocols = protocols,
            RemoteCertificateValidationCallback = (_, remote, _, _) => expected is null || remote?.GetCertHashString() == expected.Thumbprint,
        }).WaitAsync(Loopback.Timeout);
        return tls;
    }

    /// <summary>Connects over TLS asking for <paramref name="serverName"/> and returns what the server said.</summary>
    public static async Task<string> AskAsync(EndPoint endPoint, string? serverName)
    {
        using var socket = await Loopback.ConnectAsync(endPoint);
        await using var stream = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await stream.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName ?? "127.0.0.1",
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        }).WaitAsync(Loopback.Timeout);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync().WaitAsync(Loopback.Timeout);
    }
}
