using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Reactive.Concurrency;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Transport;

namespace LoadBalancer.Reactive.Tls;

/// <summary>TLS from the balancer to a backend: validation on by default, a private CA or a client certificate when configured.</summary>
internal static class BackendTls
{
    /// <summary>
    /// The handshake settings for a backend, built once when the backend is defined, with its trust store and
    /// client certificate loaded; problems loading them are added to <paramref name="errors"/>.
    /// </summary>
    public static SslClientAuthenticationOptions Settings(BackendTlsOptions options, string address, string field, List<string> errors)
    {
        var serverName = options.ServerName ?? Host(address);

        var roots = options.TrustedCertificates
            ?? (options.TrustedCertificatesPath is { } bundle ? CertificateFiles.LoadBundle(bundle, $"{field}.TrustedCertificatesPath", errors) : null);
        var client = options.ClientCertificate
            ?? (options.ClientCertificatePath is { } path
                ? CertificateFiles.LoadWithKey(path, options.ClientKeyPath, options.ClientCertificatePassword, $"{field}.ClientCertificatePath", errors)
                : null);

        if (client is not null && !ForClientAuthentication(client))
        {
            errors.Add($"{field} client certificate '{client.Subject}' is not for client authentication (its extended key usage lacks 1.3.6.1.5.5.7.3.2).");
        }

        var settings = new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            AllowRenegotiation = false,
            ClientCertificateContext = client is null ? null : SslStreamCertificateContext.Create(client, additionalCertificates: null, offline: true),
        };
        if (!options.ValidateCertificate)
        {
            settings.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }
        else if (roots is not null)
        {
            settings.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            settings.CertificateChainPolicy.CustomTrustStore.AddRange(roots);
        }

        return settings;
    }

    /// <summary>Handshakes with a connected backend within <paramref name="timeout"/>; throws <see cref="BackendTlsException"/> when it fails.</summary>
    public static async Task<RelayEnd> ConnectAsync(
        Socket socket, SslClientAuthenticationOptions settings, string address, TimeSpan timeout, IScheduler scheduler, CancellationToken aborted)
    {
        var gate = new TlsReadGate();
        var ssl = await HandshakeAsync(gate.Under(new NetworkStream(socket, ownsSocket: false)), settings, address, timeout, scheduler, aborted).ConfigureAwait(false);
        return new TlsEnd(ssl, gate, socket, socket.Dispose);
    }

    /// <summary>
    /// Handshakes as the client over <paramref name="transport"/> (left open when the stream is disposed) within
    /// <paramref name="timeout"/>; throws <see cref="BackendTlsException"/> when it fails, and lets an
    /// <see cref="OperationCanceledException"/> through when <paramref name="aborted"/> ended it.
    /// </summary>
    public static async Task<SslStream> HandshakeAsync(
        Stream transport, SslClientAuthenticationOptions settings, string address, TimeSpan timeout, IScheduler scheduler, CancellationToken aborted)
    {
        var ssl = new SslStream(transport, leaveInnerStreamOpen: true);
        using var deadline = new Deadline(timeout, scheduler, aborted);
        try
        {
            await ssl.AuthenticateAsClientAsync(settings, deadline.Token).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception exception) when (!aborted.IsCancellationRequested
            && exception is AuthenticationException or IOException or SocketException or OperationCanceledException)
        {
            ssl.Dispose();
            var why = exception is OperationCanceledException ? $"it did not finish within {Durations.Format(timeout)}" : exception.GetBaseException().Message;
            throw new BackendTlsException($"TLS handshake with backend {address} failed: {why}", exception);
        }
    }

    // A certificate without an extended key usage may be used for anything; with one, it must allow clients.
    private static bool ForClientAuthentication(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault() is not { } usage
        || usage.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Any(oid => oid.Value == "1.3.6.1.5.5.7.3.2");

    // The host the address names, as the validator parsed it: "db.internal:5432" -> "db.internal", "[::1]:443" -> "::1".
    private static string Host(string address) =>
        EndPointParser.TryParse(address, allowPortZero: false, out var endPoint, out _) && endPoint is DnsEndPoint dns ? dns.Host
        : endPoint is IPEndPoint ip ? ip.Address.ToString()
        : address;
}

/// <summary>A TLS handshake with a backend failed: it counts as a failed connect to that backend.</summary>
internal sealed class BackendTlsException(string message, Exception inner) : Exception(message, inner);
