using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Preface;

namespace LoadBalancer.Reactive.Transport;

/// <summary>Writes the PROXY protocol header a backend reads first, so it sees the real client address.</summary>
internal static class ProxyHeaderWriter
{
    /// <summary>
    /// The header for a connection from <paramref name="source"/> to <paramref name="destination"/> (the
    /// balancer's listener, or what an upstream proxy said). Addresses of different families are both
    /// written as IPv6; unknown ones give v1's "UNKNOWN" or v2's LOCAL.
    /// </summary>
    public static byte[] Write(ProxyProtocolVersion version, EndPoint? source, EndPoint? destination)
    {
        var pair = Pair(source, destination);
        return version == ProxyProtocolVersion.V1 ? V1(pair) : V2(pair);
    }

    private static (IPEndPoint Source, IPEndPoint Destination)? Pair(EndPoint? source, EndPoint? destination)
    {
        if (source is not IPEndPoint from || destination is not IPEndPoint to)
        {
            return null;
        }

        from = new IPEndPoint(NetworkParser.Normalize(from.Address), from.Port);
        to = new IPEndPoint(NetworkParser.Normalize(to.Address), to.Port);
        if (from.AddressFamily != to.AddressFamily)
        {
            from = new IPEndPoint(from.Address.MapToIPv6(), from.Port);
            to = new IPEndPoint(to.Address.MapToIPv6(), to.Port);
        }

        return (from, to);
    }

    private static byte[] V1((IPEndPoint Source, IPEndPoint Destination)? pair) => Encoding.ASCII.GetBytes(pair is var (source, destination)
        ? $"PROXY {(source.AddressFamily == AddressFamily.InterNetwork ? "TCP4" : "TCP6")} {source.Address} {destination.Address} {source.Port} {destination.Port}\r\n"
        : "PROXY UNKNOWN\r\n");

    private static byte[] V2((IPEndPoint Source, IPEndPoint Destination)? pair)
    {
        var signature = ProxyHeaderParser.V2Signature;
        if (pair is not var (source, destination))
        {
            var local = new byte[ProxyHeaderParser.V2FixedLength];
            signature.CopyTo(local);
            local[12] = 0x20; // version 2, LOCAL
            local[13] = 0x00; // UNSPEC
            return local;
        }

        var ipv4 = source.AddressFamily == AddressFamily.InterNetwork;
        var size = ipv4 ? 4 : 16;
        var header = new byte[ProxyHeaderParser.V2FixedLength + (2 * size) + 4];
        signature.CopyTo(header);
        header[12] = 0x21; // version 2, PROXY
        header[13] = ipv4 ? (byte)0x11 : (byte)0x21; // INET or INET6, STREAM
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)((2 * size) + 4));
        var body = header.AsSpan(ProxyHeaderParser.V2FixedLength);
        source.Address.TryWriteBytes(body, out _);
        destination.Address.TryWriteBytes(body[size..], out _);
        BinaryPrimitives.WriteUInt16BigEndian(body[(2 * size)..], (ushort)source.Port);
        BinaryPrimitives.WriteUInt16BigEndian(body[((2 * size) + 2)..], (ushort)destination.Port);
        return header;
    }
}
