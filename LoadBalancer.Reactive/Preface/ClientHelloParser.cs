using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace LoadBalancer.Reactive.Preface;

/// <summary>What a TLS ClientHello told the balancer.</summary>
/// <param name="ServerName">The host name from its server_name extension (SNI), lower case; null when it sent none.</param>
/// <param name="Length">How many bytes (TLS records) it took; none of them is consumed.</param>
internal sealed record ClientHello(string? ServerName, int Length);

/// <summary>
/// Reads the server name from a TLS ClientHello without terminating TLS (RFC 8446 §4.1.2, RFC 6066 §3).
/// Strict and bounded: every length must fit inside its container exactly, the hello may span records
/// but never more than <see cref="MaxLength"/> bytes, anything that cannot be a ClientHello is refused as
/// soon as it is seen, and nothing throws.
/// </summary>
internal static class ClientHelloParser
{
    /// <summary>The most bytes looked at: real ClientHellos are well under 2 KiB, post-quantum key shares included.</summary>
    public const int MaxLength = 32 * 1024;

    private const int RecordHeader = 5;
    private const int MaxRecordPayload = 1 << 14;
    private const byte HandshakeRecord = 22;
    private const byte ClientHelloMessage = 1;
    private const ushort ServerNameExtension = 0;
    private const string Malformed = "the ClientHello is malformed: a length runs past its end";

    /// <summary>Parses the ClientHello at the start of <paramref name="buffer"/>.</summary>
    public static PrefaceStatus Parse(ReadOnlySequence<byte> buffer, out ClientHello? hello, out string? error)
    {
        hello = null;
        error = null;
        var available = (int)Math.Min(buffer.Length, MaxLength);
        var bytes = ArrayPool<byte>.Shared.Rent(Math.Max(available, 1));
        try
        {
            buffer.Slice(0, available).CopyTo(bytes);
            return Parse(bytes.AsSpan(0, available), out hello, out error);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private static PrefaceStatus Parse(ReadOnlySpan<byte> input, out ClientHello? hello, out string? error)
    {
        hello = null;
        error = null;

        // Gather the handshake message from as many records as it spans.
        var message = new ArrayBufferWriter<byte>(512);
        var offset = 0;
        while (true)
        {
            if (input.Length - offset < RecordHeader)
            {
                return Early(input[offset..], offset, out error);
            }

            var record = input.Slice(offset, RecordHeader);
            if (record[0] != HandshakeRecord)
            {
                error = offset == 0
                    ? "the connection did not start with a TLS handshake record"
                    : "the ClientHello is followed by a record that is not a handshake";
                return PrefaceStatus.Invalid;
            }

            if (record[1] != 3 || record[2] > 4)
            {
                error = $"the TLS record has version {record[1]}.{record[2]}, not 3.0-3.4";
                return PrefaceStatus.Invalid;
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(record[3..]);
            if (length is 0 or > MaxRecordPayload)
            {
                error = $"a TLS record of {length} bytes is outside 1-{MaxRecordPayload}";
                return PrefaceStatus.Invalid;
            }

            if (offset + RecordHeader + length > MaxLength)
            {
                error = $"the ClientHello is longer than {MaxLength} bytes";
                return PrefaceStatus.Invalid;
            }

            if (input.Length - offset - RecordHeader < length)
            {
                return PrefaceStatus.NeedMore;
            }

            message.Write(input.Slice(offset + RecordHeader, length));
            offset += RecordHeader + length;

            var gathered = message.WrittenSpan;
            if (gathered[0] != ClientHelloMessage)
            {
                error = $"the first handshake message is of type {gathered[0]}, not a ClientHello (1)";
                return PrefaceStatus.Invalid;
            }

            if (gathered.Length < 4)
            {
                continue;
            }

            var bodyLength = (gathered[1] << 16) | (gathered[2] << 8) | gathered[3];
            if (bodyLength + 4 > MaxLength)
            {
                error = $"the ClientHello declares {bodyLength} bytes, more than {MaxLength}";
                return PrefaceStatus.Invalid;
            }

            if (gathered.Length < 4 + bodyLength)
            {
                continue;
            }

            if (gathered.Length > 4 + bodyLength)
            {
                error = "the ClientHello's records hold more than the ClientHello";
                return PrefaceStatus.Invalid;
            }

            if (!TryServerName(gathered[4..], out var serverName, out error))
            {
                return PrefaceStatus.Invalid;
            }

            hello = new ClientHello(serverName, offset);
            return PrefaceStatus.Parsed;
        }
    }

    // Fewer than five bytes of a record header: refuse at once if what is there cannot start one.
    private static PrefaceStatus Early(ReadOnlySpan<byte> partial, int offset, out string? error)
    {
        error = null;
        if ((partial.Length >= 1 && partial[0] != HandshakeRecord) || (partial.Length >= 2 && partial[1] != 3) || (partial.Length >= 3 && partial[2] > 4))
        {
            error = offset == 0 ? "the connection did not start with a TLS handshake record" : "the ClientHello is followed by a record that is not a handshake";
            return PrefaceStatus.Invalid;
        }

        return PrefaceStatus.NeedMore;
    }

    // ClientHello: version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2> compression_methods<1..2^8-1> extensions<0..2^16-1>
    private static bool TryServerName(ReadOnlySpan<byte> body, out string? serverName, out string? error)
    {
        serverName = null;
        error = Malformed;
        var reader = new SpanReader(body);
        if (!reader.Skip(2 + 32)
            || !reader.TryVector8(out var sessionId) || sessionId.Length > 32
            || !reader.TryVector16(out var suites) || suites.Length < 2 || suites.Length % 2 != 0
            || !reader.TryVector8(out var compression) || compression.Length < 1)
        {
            return false;
        }

        if (reader.Remaining == 0)
        {
            error = null;
            return true; // No extensions at all (TLS 1.2 and older may omit them): no server name.
        }

        if (!reader.TryVector16(out var extensions) || reader.Remaining != 0)
        {
            return false;
        }

        var seen = new HashSet<ushort>();
        var list = new SpanReader(extensions);
        while (list.Remaining > 0)
        {
            if (!list.TryUInt16(out var type) || !list.TryVector16(out var data))
            {
                error = Malformed;
                return false;
            }

            if (!seen.Add(type))
            {
                error = $"the ClientHello repeats extension {type}";
                return false;
            }

            if (type == ServerNameExtension && !TryHostName(data, out serverName, out error))
            {
                return false;
            }
        }

        error = null;
        return true;
    }

    // server_name: ServerNameList<1..2^16-1> of (name_type(1), HostName<1..2^16-1>); one host_name at most.
    private static bool TryHostName(ReadOnlySpan<byte> data, out string? serverName, out string? error)
    {
        serverName = null;
        error = "the ClientHello's server_name extension is malformed";
        var extension = new SpanReader(data);
        if (!extension.TryVector16(out var names) || extension.Remaining != 0 || names.Length == 0)
        {
            return false;
        }

        var list = new SpanReader(names);
        while (list.Remaining > 0)
        {
            if (!list.TryByte(out var nameType) || !list.TryVector16(out var name))
            {
                return false;
            }

            if (nameType != 0)
            {
                continue; // Other name types are ignored, as RFC 6066 allows for unknown ones.
            }

            if (serverName is not null)
            {
                error = "the ClientHello names more than one host";
                return false;
            }

            if (name.Length is 0 or > 255 || name[^1] == (byte)'.'
                || name.IndexOfAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"u8) >= 0)
            {
                error = "the ClientHello's server name is not a host name";
                return false;
            }

            serverName = Encoding.ASCII.GetString(name).ToLowerInvariant();
        }

        error = null;
        return true;
    }

    /// <summary>Reads big-endian fields and length-prefixed vectors, refusing any that run past the end.</summary>
    private ref struct SpanReader(ReadOnlySpan<byte> span)
    {
        private ReadOnlySpan<byte> _rest = span;

        public readonly int Remaining => _rest.Length;

        public bool Skip(int count)
        {
            if (_rest.Length < count)
            {
                return false;
            }

            _rest = _rest[count..];
            return true;
        }

        public bool TryByte(out byte value)
        {
            value = _rest.IsEmpty ? (byte)0 : _rest[0];
            return Skip(1);
        }

        public bool TryUInt16(out ushort value)
        {
            value = _rest.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(_rest) : (ushort)0;
            return Skip(2);
        }

        public bool TryVector8(out ReadOnlySpan<byte> vector)
        {
            vector = default;
            return TryByte(out var length) && TryTake(length, out vector);
        }

        public bool TryVector16(out ReadOnlySpan<byte> vector)
        {
            vector = default;
            return TryUInt16(out var length) && TryTake(length, out vector);
        }

        private bool TryTake(int length, out ReadOnlySpan<byte> vector)
        {
            vector = _rest.Length >= length ? _rest[..length] : default;
            return Skip(length);
        }
    }
}
