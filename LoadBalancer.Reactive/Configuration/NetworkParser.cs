using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace LoadBalancer.Reactive.Configuration;

/// <summary>Parses client networks written in CIDR form, IPv4 or IPv6, with an error that names the field.</summary>
internal static class NetworkParser
{
    /// <summary>
    /// Parses <c>address/prefix</c>, or a bare address as a network of one. The address must be the
    /// network's first (<c>10.0.0.0/8</c>, not <c>10.1.2.3/8</c>), as a typo there usually means a wrong prefix.
    /// </summary>
    public static bool TryParse(string? text, string field, out IPNetwork network, [NotNullWhen(false)] out string? error)
    {
        network = default;
        error = null;
        var trimmed = text?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            error = $"{field} is empty; write a network like 10.0.0.0/8 or 2001:db8::/32.";
            return false;
        }

        if (!trimmed.Contains('/', StringComparison.Ordinal))
        {
            if (!IPAddress.TryParse(trimmed, out var address))
            {
                error = $"{field} '{text}' is not an IP address or a network like 10.0.0.0/8.";
                return false;
            }

            network = new IPNetwork(Normalize(address), address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        // IPNetwork masks host bits away silently; a rule written 10.1.2.3/8 is more likely a wrong prefix
        // than a wish to let in all of 10.0.0.0/8, so it is refused.
        var written = IPAddress.TryParse(trimmed.AsSpan(0, trimmed.IndexOf('/', StringComparison.Ordinal)), out var baseAddress) ? baseAddress : null;
        if (!IPNetwork.TryParse(trimmed, out network) || written is null || !network.BaseAddress.Equals(written))
        {
            error = $"{field} '{text}' is not a network: write an address, a slash and a prefix length within the address's bits, "
                + "with the host bits zero (10.0.0.0/8, 192.168.1.0/24, 2001:db8::/32).";
            return false;
        }

        return true;
    }

    /// <summary>An IPv4 client seen through a dual-stack socket (<c>::ffff:10.0.0.1</c>) as the IPv4 address it is.</summary>
    public static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
