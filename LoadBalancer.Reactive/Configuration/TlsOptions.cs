using System.Security.Cryptography.X509Certificates;

namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// TLS termination on the listeners: clients speak TLS 1.2 or 1.3 to the balancer, which relays the
/// decrypted bytes to backends (and, per backend, may speak TLS to them again: <see cref="BackendOptions.Tls"/>).
/// Set <see cref="Certificate"/>, or <see cref="CertificatePath"/> (and <see cref="KeyPath"/> for PEM).
/// </summary>
public sealed record TlsOptions
{
    /// <summary>The server certificate, with its private key. Wins over <see cref="CertificatePath"/>.</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>
    /// A certificate file: PKCS#12 (<c>.pfx</c>, <c>.p12</c>, key included) or PEM (with <see cref="KeyPath"/>,
    /// or with the key in the same file). A PEM file may hold the chain after the leaf.
    /// </summary>
    public string? CertificatePath { get; init; }

    /// <summary>The PEM private key for a PEM <see cref="CertificatePath"/>.</summary>
    public string? KeyPath { get; init; }

    /// <summary>The password of a PKCS#12 file or an encrypted PEM key; null when there is none.</summary>
    public string? Password { get; init; }

    /// <summary>How long a client may take to complete its handshake. Default: 10 seconds.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Whether TLS is terminated at all: a certificate is given.</summary>
    public bool Enabled => Certificate is not null || !string.IsNullOrEmpty(CertificatePath);
}

/// <summary>
/// TLS from the balancer to one backend (re-encryption after termination, or TLS to a backend for plain
/// clients). The backend's certificate is validated by default, against the system's roots or
/// <see cref="TrustedCertificatesPath"/>; a client certificate makes it mutual TLS.
/// </summary>
public sealed record BackendTlsOptions
{
    /// <summary>
    /// The name sent as SNI and checked against the backend's certificate. Default: the host of
    /// <see cref="BackendOptions.Address"/> (no SNI is sent for an IP address, which is then checked instead).
    /// </summary>
    public string? ServerName { get; init; }

    /// <summary>Validate the backend's certificate (chain and name). Default: true. Turn off only for tests.</summary>
    public bool ValidateCertificate { get; init; } = true;

    /// <summary>A PEM file of CA certificates to trust for this backend instead of the system's roots (a private CA).</summary>
    public string? TrustedCertificatesPath { get; init; }

    /// <summary>CA certificates to trust instead of the system's roots; wins over <see cref="TrustedCertificatesPath"/>.</summary>
    public X509Certificate2Collection? TrustedCertificates { get; init; }

    /// <summary>The client certificate, with its key, for mutual TLS. Wins over <see cref="ClientCertificatePath"/>.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>A client certificate file for mutual TLS: PKCS#12, or PEM with <see cref="ClientKeyPath"/>.</summary>
    public string? ClientCertificatePath { get; init; }

    /// <summary>The PEM private key for a PEM <see cref="ClientCertificatePath"/>.</summary>
    public string? ClientKeyPath { get; init; }

    /// <summary>The password of a PKCS#12 client certificate or an encrypted PEM key.</summary>
    public string? ClientCertificatePassword { get; init; }
}
