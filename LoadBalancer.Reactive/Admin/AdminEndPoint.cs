using System.Net;
using System.Net.Sockets;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Admin;

/// <summary>
/// Where the runtime API listens, read from what a user writes: a Unix socket path (anything with a '/') or a
/// <c>HOST:PORT</c> that must be a loopback address unless a token guards it.
/// </summary>
internal static class AdminEndPoint
{
    /// <summary>The endpoint to bind, or an <see cref="ArgumentException"/> that names <paramref name="text"/>.</summary>
    public static EndPoint Parse(string text, bool guardedByToken)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ArgumentException("The runtime API endpoint is empty; expected a Unix socket path or a loopback HOST:PORT.", nameof(text));
        }

        if (text.Contains('/', StringComparison.Ordinal))
        {
            return new UnixDomainSocketEndPoint(Path.GetFullPath(text));
        }

        // "localhost" is the loopback a user means, without asking a resolver that could say otherwise.
        var written = text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase) ? "127.0.0.1" + text["localhost".Length..] : text;
        if (!EndPointParser.TryParse(written, allowPortZero: true, out var endPoint, out var error) || endPoint is not IPEndPoint ip)
        {
            throw new ArgumentException(
                $"The runtime API endpoint {error ?? $"'{text}' is not an IP address and port"}; expected a Unix socket path (with a '/', " +
                "such as ./admin.sock) or a loopback HOST:PORT.",
                nameof(text));
        }

        if (!IPAddress.IsLoopback(ip.Address) && !guardedByToken)
        {
            throw new ArgumentException(
                $"The runtime API endpoint '{text}' is not a loopback address; anyone who reaches it could drain backends, so it needs a token.",
                nameof(text));
        }

        return ip;
    }

    /// <summary>An endpoint as the listener reports it: the socket's path, or the address and the port bound.</summary>
    public static string Format(EndPoint endPoint) => endPoint switch
    {
        UnixDomainSocketEndPoint unix => unix.ToString(),
        _ => EndPointParser.Format(endPoint),
    };
}
