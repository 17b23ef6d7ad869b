using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// Parses <c>HOST:PORT</c> strings into endpoints: IPv4 and bracketed IPv6 literals become
/// <see cref="IPEndPoint"/>s, host names <see cref="DnsEndPoint"/>s, and <c>*</c> the IPv4 any address.
/// </summary>
internal static class EndPointParser
{
    public const int MaxPort = 65535;

    /// <summary>Parses <paramref name="text"/>, or returns false with a sentence saying what is wrong.</summary>
    /// <param name="text">The address as the user wrote it.</param>
    /// <param name="allowPortZero">Listen endpoints may ask for port 0; backends may not.</param>
    /// <param name="endPoint">The parsed endpoint.</param>
    /// <param name="error">Why it does not parse.</param>
    public static bool TryParse(
        string? text, bool allowPortZero, [NotNullWhen(true)] out EndPoint? endPoint, [NotNullWhen(false)] out string? error)
    {
        endPoint = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "is empty; expected HOST:PORT";
            return false;
        }

        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = $"'{text}' is not HOST:PORT";
            return false;
        }

        var host = text[..colon];
        var portText = text[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            error = $"'{text}' has port '{portText}', which is not a number";
            return false;
        }

        var minPort = allowPortZero ? 0 : 1;
        if (port < minPort || port > MaxPort)
        {
            error = $"'{text}' has port {port}, outside {minPort}-{MaxPort}";
            return false;
        }

        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            if (IPAddress.TryParse(host[1..^1], out var v6))
            {
                endPoint = new IPEndPoint(v6, port);
                error = null;
                return true;
            }

            error = $"'{text}' has '{host}', which is not an IPv6 address";
            return false;
        }

        if (host.Contains(':'))
        {
            error = $"'{text}' is ambiguous; write IPv6 addresses in brackets, like [::1]:{port}";
            return false;
        }

        if (host.All(c => char.IsAsciiDigit(c) || c == '.') && !LooksLikeIPv4(host))
        {
            error = $"'{text}' has '{host}', which is not a full IPv4 address (a.b.c.d)";
            return false;
        }

        if (host == "*")
        {
            endPoint = new IPEndPoint(IPAddress.Any, port);
        }
        else if (IPAddress.TryParse(host, out var address) && LooksLikeIPv4(host))
        {
            endPoint = new IPEndPoint(address, port);
        }
        else if (Uri.CheckHostName(host) == UriHostNameType.Dns)
        {
            endPoint = new DnsEndPoint(host, port);
        }
        else
        {
            error = $"'{text}' has '{host}', which is neither an IP address nor a host name";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Writes an endpoint the way <see cref="TryParse"/> reads it.</summary>
    public static string Format(EndPoint endPoint) => endPoint switch
    {
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        _ => endPoint.ToString() ?? string.Empty,
    };

    // IPAddress.TryParse accepts "1" or "10.1" as IPv4 shorthand for 0.0.0.1 or 10.0.0.1; a user who
    // writes that has almost certainly made a typo, so only the full dotted form is an address.
    private static bool LooksLikeIPv4(string host) => host.Count(c => c == '.') == 3;
}
