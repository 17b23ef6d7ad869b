using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LoadBalancer.Reactive.Tls;

/// <summary>Loads certificates from PKCS#12 and PEM files, with errors that name the field and the file.</summary>
internal static class CertificateFiles
{
    /// <summary>A certificate with its private key, or null with the problem added to <paramref name="errors"/>.</summary>
    public static X509Certificate2? LoadWithKey(string path, string? keyPath, string? password, string field, List<string> errors)
    {
        try
        {
            var certificate = IsPkcs12(path, keyPath)
                ? X509CertificateLoader.LoadPkcs12FromFile(path, password)
                : LoadPem(path, keyPath ?? path, password);
            if (!certificate.HasPrivateKey)
            {
                errors.Add($"{field} '{path}' has no private key{(keyPath is null ? "; give its key file too" : string.Empty)}.");
                certificate.Dispose();
                return null;
            }

            return certificate;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            errors.Add($"{field} '{path}'{(keyPath is null ? string.Empty : $" (key '{keyPath}')")} cannot be loaded: {exception.Message}");
            return null;
        }
    }

    /// <summary>Every certificate in a PEM file (a CA bundle), or null with the problem added.</summary>
    public static X509Certificate2Collection? LoadBundle(string path, string field, List<string> errors)
    {
        try
        {
            var bundle = new X509Certificate2Collection();
            bundle.ImportFromPemFile(path);
            if (bundle.Count == 0)
            {
                errors.Add($"{field} '{path}' holds no PEM certificate.");
                return null;
            }

            return bundle;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            errors.Add($"{field} '{path}' cannot be loaded: {exception.Message}");
            return null;
        }
    }

    private static bool IsPkcs12(string path, string? keyPath) =>
        keyPath is null && Path.GetExtension(path).ToLowerInvariant() is ".pfx" or ".p12";

    private static X509Certificate2 LoadPem(string path, string keyPath, string? password)
    {
        using var pem = password is null
            ? X509Certificate2.CreateFromPemFile(path, keyPath)
            : X509Certificate2.CreateFromEncryptedPemFile(path, password, keyPath);
        // Through PKCS#12, so the key is a persisted one SslStream can use on every platform.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
    }
}
