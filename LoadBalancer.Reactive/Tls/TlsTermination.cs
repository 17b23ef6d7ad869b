using System.Net.Security;
using System.Reactive.Concurrency;
using System.Security.Authentication;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Transport;

namespace LoadBalancer.Reactive.Tls;

/// <summary>
/// Terminates clients' TLS: one certificate context built at start, TLS 1.2 and 1.3 only, a handshake
/// timeout on the balancer's scheduler, and a failed handshake reported, never thrown. A reconfiguration
/// replaces the certificate (and the timeout) live: handshakes that start afterwards use the new one, while
/// connections already open keep the session they have.
/// </summary>
internal sealed class TlsTermination
{
    private const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;
    private volatile Settings _settings;

    private TlsTermination(SslServerAuthenticationOptions options, TimeSpan timeout, string thumbprint)
    {
        _settings = new Settings(options, timeout, thumbprint);
    }

    /// <summary>The SHA-1 thumbprint of the certificate new handshakes present, to tell whether a reload changed it.</summary>
    public string Thumbprint => _settings.Thumbprint;

    /// <summary>Makes new handshakes present <paramref name="next"/>'s certificate, with its handshake timeout.</summary>
    public void Replace(TlsTermination next) => _settings = next._settings;

    /// <summary>The termination for <paramref name="options"/>, or null with the problems added to <paramref name="errors"/>.</summary>
    public static TlsTermination? Create(TlsOptions options, List<string> errors)
    {
        var certificate = options.Certificate
            ?? CertificateFiles.LoadWithKey(options.CertificatePath!, options.KeyPath, options.Password, "Tls.CertificatePath", errors);
        if (certificate is null)
        {
            return null;
        }

        if (!certificate.HasPrivateKey)
        {
            errors.Add($"Tls.Certificate '{certificate.Subject}' has no private key.");
            return null;
        }

        return new TlsTermination(
            new SslServerAuthenticationOptions
            {
                ServerCertificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true),
                EnabledSslProtocols = Protocols,
                ClientCertificateRequired = false,
                AllowRenegotiation = false,
            },
            options.HandshakeTimeout,
            certificate.Thumbprint);
    }

    /// <summary>
    /// Completes the client's handshake over its pipe (so bytes already read, like a PROXY header, are not
    /// fed to TLS twice) and returns the end the relay reads plaintext from, with the server name the client
    /// asked for; or why it failed.
    /// </summary>
    /// <param name="raw">The client's socket and the pipe it is read through.</param>
    /// <param name="scheduler">Times the handshake.</param>
    /// <param name="aborted">The balancer cutting the connection.</param>
    public async Task<(TlsEnd? End, string? ServerName, string? Error)> AcceptAsync(
        Pipelines.Sockets.Unofficial.SocketConnection raw, IScheduler scheduler, CancellationToken aborted)
    {
        // Read once: a handshake runs with one certificate and one timeout, even if they are replaced meanwhile.
        var (options, timeout, _) = _settings;
        var gate = new TlsReadGate();
        var ssl = new SslStream(gate.Under(new PipeSocketStream(raw.Input, raw.Socket)), leaveInnerStreamOpen: true);
        using var deadline = new Deadline(timeout, scheduler, aborted);
        try
        {
            await ssl.AuthenticateAsServerAsync(options, deadline.Token).ConfigureAwait(false);
            var name = string.IsNullOrEmpty(ssl.TargetHostName) ? null : ssl.TargetHostName.ToLowerInvariant();
            return (new TlsEnd(ssl, gate, raw.Socket, () => RelayEnd.CloseConnection(raw)), name, null);
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            ssl.Dispose();
            return (null, null, $"the TLS handshake did not finish within {Durations.Format(timeout)}");
        }
        catch (Exception exception) when (exception is AuthenticationException or IOException or System.Net.Sockets.SocketException
            or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            ssl.Dispose();
            return (null, null, $"the TLS handshake failed: {exception.GetBaseException().Message}");
        }
    }

    private sealed record Settings(SslServerAuthenticationOptions Options, TimeSpan Timeout, string Thumbprint);
}
