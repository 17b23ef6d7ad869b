using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;


namespace LoadBalancer.Reactive.Preface;

/// <summary>
/// A strict, bounded parser of PROXY protocol headers, versions 1 and 2 (HAProxy's proxy-protocol.txt).
/// It looks at no more than the spec's largest header (107 bytes for v1; 16 plus the declared length for v2),
/// says "invalid" as soon as a byte cannot start or continue a header, and never throws.
/// </summary>
internal static class ProxyHeaderParser
{
    /// <summary>The longest v1 header, "PROXY TCP6 ..." with its CRLF.</summary>
    public const int MaxV1Length = 107;

    /// <summary>The fixed part of a v2 header: signature, version and command, family, length.</summary>
    public const int V2FixedLength = 16;

    /// <summary>The longest v2 header the spec allows: the fixed part and a 16-bit length.</summary>
    public const int MaxV2Length = V2FixedLength + ushort.MaxValue;

    private static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    /// <summary>The v2 signature: \r\n\r\n\0\r\nQUIT\n.</summary>
    internal static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>Parses a header at the start of <paramref name="buffer"/>.</summary>
    /// <param name="buffer">The bytes received so far.</param>
    /// <param name="header">The header, when <see cref="PrefaceStatus.Parsed"/>.</param>
    /// <param name="error">Why not, when <see cref="PrefaceStatus.Invalid"/>.</param>
    public static PrefaceStatus Parse(ReadOnlySequence<byte> buffer, out ProxyHeader? header, out string? error)
    {
        header = null;
        error = null;
        Span<byte> start = stackalloc byte[V2FixedLength];
        var have = (int)Math.Min(buffer.Length, V2FixedLength);
        buffer.Slice(0, have).CopyTo(start);
        start = start[..have];

        if (Matches(start, V1Prefix))
        {
            return start.Length < V1Prefix.Length ? PrefaceStatus.NeedMore : ParseV1(buffer, out header, out error);
        }

        if (Matches(start, V2Signature))
        {
            return start.Length < V2FixedLength ? PrefaceStatus.NeedMore : ParseV2(buffer, start, out header, out error);
        }

        error = "the connection did not start with a PROXY protocol header (v1 \"PROXY \" or the v2 signature)";
        return PrefaceStatus.Invalid;
    }

    // True when what we have so far agrees with the expected bytes, as far as it goes.
    private static bool Matches(ReadOnlySpan<byte> have, ReadOnlySpan<byte> expected)
    {
        var length = Math.Min(have.Length, expected.Length);
        return have[..length].SequenceEqual(expected[..length]);
    }

    private static PrefaceStatus ParseV1(ReadOnlySequence<byte> buffer, out ProxyHeader? header, out string? error)
    {
        header = null;
        error = null;
        Span<byte> line = stackalloc byte[MaxV1Length];
        var have = (int)Math.Min(buffer.Length, MaxV1Length);
        buffer.Slice(0, have).CopyTo(line);
        line = line[..have];

        var end = line.IndexOf("\r\n"u8);
        if (end < 0)
        {
            if (have >= MaxV1Length)
            {
                error = $"PROXY v1 header has no CRLF within {MaxV1Length} bytes";
                return PrefaceStatus.Invalid;
            }

            // A lone LF or a byte outside printable ASCII can never become a valid line.
            var bad = line.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E);
            if (bad >= 0 && !(line[bad] == (byte)'\r' && bad == line.Length - 1))
            {
                error = "PROXY v1 header holds a byte that is not printable ASCII";
                return PrefaceStatus.Invalid;
            }

            return PrefaceStatus.NeedMore;
        }

        var text = Encoding.ASCII.GetString(line[..end]);
        if (text.Any(c => c < 0x20 || c > 0x7E))
        {
            error = "PROXY v1 header holds a byte that is not printable ASCII";
            return PrefaceStatus.Invalid;
        }

        var fields = text.Split(' ');
        if (fields.Length >= 2 && fields[1] == "UNKNOWN")
        {
            header = new ProxyHeader(1, null, null, end + 2);
            return PrefaceStatus.Parsed;
        }

        if (fields.Length != 6 || fields[1] is not ("TCP4" or "TCP6"))
        {
            error = "PROXY v1 header must read 'PROXY TCP4|TCP6 SOURCE DESTINATION SOURCE-PORT DESTINATION-PORT' or 'PROXY UNKNOWN'";
            return PrefaceStatus.Invalid;
        }

        var family = fields[1] == "TCP4" ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        if (!TryAddress(fields[2], family, out var source) || !TryAddress(fields[3], family, out var destination))
        {
            error = $"PROXY v1 header's addresses are not both {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} addresses";
            return PrefaceStatus.Invalid;
        }

        if (!TryPort(fields[4], out var sourcePort) || !TryPort(fields[5], out var destinationPort))
        {
            error = "PROXY v1 header's ports must be decimal numbers from 0 to 65535, without leading zeros";
            return PrefaceStatus.Invalid;
        }

        header = new ProxyHeader(1, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort), end + 2);
        return PrefaceStatus.Parsed;
    }

    private static PrefaceStatus ParseV2(ReadOnlySequence<byte> buffer, ReadOnlySpan<byte> fixedPart, out ProxyHeader? header, out string? error)
    {
        header = null;
        error = null;
        var versionAndCommand = fixedPart[12];
        var familyAndTransport = fixedPart[13];
        var length = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[14..]);
        if (versionAndCommand >> 4 != 2)
        {
            error = $"PROXY v2 header has version {versionAndCommand >> 4}, not 2";
            return PrefaceStatus.Invalid;
        }

        var command = versionAndCommand & 0x0F;
        if (command > 1)
        {
            error = $"PROXY v2 header has command {command}, neither LOCAL (0) nor PROXY (1)";
            return PrefaceStatus.Invalid;
        }

        var family = familyAndTransport >> 4;
        var transport = familyAndTransport & 0x0F;
        if (family > 3 || transport > 2)
        {
            error = $"PROXY v2 header has address family {family} and transport {transport}; the spec knows families 0-3 and transports 0-2";
            return PrefaceStatus.Invalid;
        }

        var total = V2FixedLength + length;
        if (buffer.Length < total)
        {
            return PrefaceStatus.NeedMore;
        }

        // LOCAL (a health check from the proxy itself), UNSPEC and UNIX carry no client address to use.
        if (command == 0 || family is 0 or 3)
        {
            header = new ProxyHeader(2, null, null, total);
            return PrefaceStatus.Parsed;
        }

        if (transport != 1)
        {
            error = "PROXY v2 header describes a datagram (or unspecified) transport, not a TCP stream";
            return PrefaceStatus.Invalid;
        }

        var addressLength = family == 1 ? 12 : 36;
        if (length < addressLength)
        {
            error = $"PROXY v2 header's length {length} is too short for its {(family == 1 ? "IPv4" : "IPv6")} addresses ({addressLength} bytes)";
            return PrefaceStatus.Invalid;
        }

        Span<byte> addresses = stackalloc byte[36];
        addresses = addresses[..addressLength];
        buffer.Slice(V2FixedLength, addressLength).CopyTo(addresses);
        var size = family == 1 ? 4 : 16;
        var source = new IPAddress(addresses[..size]);
        var destination = new IPAddress(addresses[size..(2 * size)]);
        var sourcePort = BinaryPrimitives.ReadUInt16BigEndian(addresses[(2 * size)..]);
        var destinationPort = BinaryPrimitives.ReadUInt16BigEndian(addresses[((2 * size) + 2)..]);
        header = new ProxyHeader(2, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort), total);
        return PrefaceStatus.Parsed;
    }

    private static bool TryAddress(string text, AddressFamily family, out IPAddress address)
    {
        address = IPAddress.None;
        // IPAddress.TryParse takes "1" or "0x7f.1" as IPv4; the spec wants dotted quads and plain IPv6.
        var shaped = family == AddressFamily.InterNetwork
            ? text.Count(c => c == '.') == 3 && text.All(c => char.IsAsciiDigit(c) || c == '.')
            : text.Contains(':', StringComparison.Ordinal) && text.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.');
        return shaped && IPAddress.TryParse(text, out address!) && address.AddressFamily == family;
    }

    private static bool TryPort(string text, out int port)
    {
        port = 0;
        return text.Length is > 0 and <= 5
            && text.All(char.IsAsciiDigit)
            && (text.Length == 1 || text[0] != '0')
            && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port)
            && port <= ushort.MaxValue;
    }
}
