using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>
/// A 64-bit hash that is the same in every process and on every run (unlike <c>string.GetHashCode</c>),
/// so hashing strategies send a client to the same backend after a restart and on every balancer.
/// FNV-1a over the bytes, then a MurmurHash3 finalizer to spread close keys (neighbouring addresses) apart.
/// </summary>
internal static class StableHash
{
    private const ulong FnvOffset = 14695981039346656037;
    private const ulong FnvPrime = 1099511628211;

    public static ulong Hash(ReadOnlySpan<byte> data, ulong seed = 0)
    {
        var hash = FnvOffset ^ seed;
        foreach (var b in data)
        {
            hash = (hash ^ b) * FnvPrime;
        }

        return Mix(hash);
    }

    public static ulong Hash(string text, ulong seed = 0) => Hash(Encoding.UTF8.GetBytes(text), seed);

    /// <summary>
    /// The key hashing strategies place a connection by: the client's IP address (IPv4-mapped IPv6
    /// counts as IPv4; the port is left out, so every connection from one client agrees), or the
    /// connection id when the client is unknown.
    /// </summary>
    public static ulong ClientKey(in BalancingContext context)
    {
        switch (context.Client)
        {
            case IPEndPoint ip:
                var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
                Span<byte> bytes = stackalloc byte[16];
                return address.TryWriteBytes(bytes, out var written) ? Hash(bytes[..written]) : 0;
            case DnsEndPoint dns:
                return Hash(dns.Host);
            default:
                Span<byte> id = stackalloc byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(id, context.ConnectionId);
                return Hash(id);
        }
    }

    private static ulong Mix(ulong key)
    {
        key ^= key >> 33;
        key *= 0xff51afd7ed558ccd;
        key ^= key >> 33;
        key *= 0xc4ceb9fe1a85ec53;
        key ^= key >> 33;
        return key;
    }
}
