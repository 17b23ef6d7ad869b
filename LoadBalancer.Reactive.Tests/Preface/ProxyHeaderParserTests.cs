using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Preface;
using LoadBalancer.Reactive.Tests.Infrastructure;
using LoadBalancer.Reactive.Transport;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Preface;

/// <summary>The PROXY protocol parser and writer: valid headers, every way to be wrong, and random bytes.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class ProxyHeaderParserTests
{
    private static readonly IPEndPoint s_client = new(IPAddress.Parse("203.0.113.7"), 40001);
    private static readonly IPEndPoint s_listener = new(IPAddress.Parse("198.51.100.1"), 443);
    private static readonly IPEndPoint s_client6 = new(IPAddress.Parse("2001:db8::7"), 40001);
    private static readonly IPEndPoint s_listener6 = new(IPAddress.Parse("2001:db8::1"), 443);

    [Theory]
    [InlineData("PROXY TCP4 203.0.113.7 198.51.100.1 40001 443\r\nGET", "203.0.113.7:40001", "198.51.100.1:443", 47)]
    [InlineData("PROXY TCP6 2001:db8::7 2001:db8::1 40001 443\r\n", "[2001:db8::7]:40001", "[2001:db8::1]:443", 46)]
    [InlineData("PROXY UNKNOWN\r\n", null, null, 15)]
    [InlineData("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", null, null, 35)]
    [InlineData("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", "0.0.0.0:0", "255.255.255.255:65535", 44)]
    public void V1_ValidHeaders_AreParsedAndConsumedExactly(string text, string? source, string? destination, int length)
    {
        var status = Parse(Encoding.ASCII.GetBytes(text), out var header, out var error);

        Assert.Equal(PrefaceStatus.Parsed, status);
        Assert.Null(error);
        Assert.Equal((1, source, destination, length), (header!.Version, header.Source?.ToString(), header.Destination?.ToString(), header.Length));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n", "did not start with a PROXY protocol header")]
    [InlineData("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "must read 'PROXY TCP4|TCP6")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "must read 'PROXY TCP4|TCP6")]
    [InlineData("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "must read 'PROXY TCP4|TCP6")]
    [InlineData("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "are not both IPv4 addresses")]
    [InlineData("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "are not both IPv4 addresses")]
    [InlineData("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "are not both IPv6 addresses")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "ports must be decimal numbers from 0 to 65535")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", "without leading zeros")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "ports must be decimal")]
    [InlineData("PROXY TCP4 1.2.3.4\n", "not printable ASCII")]
    [InlineData("PROXY TCP4 1.2.3.4\u00e9", "not printable ASCII")]
    public void V1_Mistakes_AreInvalidWithAReason(string text, string reason)
    {
        var status = Parse(Encoding.Latin1.GetBytes(text), out var header, out var error);

        Assert.Equal(PrefaceStatus.Invalid, status);
        Assert.Null(header);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void V1_WithoutCrlfWithin107Bytes_IsInvalid_AndShorterIsStillWaiting()
    {
        var line = Encoding.ASCII.GetBytes("PROXY TCP6 " + new string('a', 200));

        Assert.Equal(PrefaceStatus.NeedMore, Parse(line[..106], out _, out _));
        Assert.Equal(PrefaceStatus.Invalid, Parse(line[..107], out _, out var error));
        Assert.Contains("no CRLF within 107 bytes", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ProxyProtocolVersion.V1)]
    [InlineData(ProxyProtocolVersion.V2)]
    public void Writer_IPv4AndIPv6_RoundTripThroughTheParser(ProxyProtocolVersion version)
    {
        foreach (var (source, destination) in new[] { (s_client, s_listener), (s_client6, s_listener6) })
        {
            var bytes = ProxyHeaderWriter.Write(version, source, destination);

            Assert.Equal(PrefaceStatus.Parsed, Parse(bytes, out var header, out _));
            Assert.Equal((version == ProxyProtocolVersion.V1 ? 1 : 2, source, destination, bytes.Length), (header!.Version, header.Source, header.Destination, header.Length));
        }
    }

    [Fact]
    public void Writer_MixedFamilies_AreBothWrittenAsIPv6_AndMappedIPv4AsIPv4()
    {
        var mapped = new IPEndPoint(IPAddress.Parse("::ffff:203.0.113.7"), 40001);

        Assert.Equal("PROXY TCP4 203.0.113.7 198.51.100.1 40001 443\r\n", Encoding.ASCII.GetString(ProxyHeaderWriter.Write(ProxyProtocolVersion.V1, mapped, s_listener)));
        Assert.Equal(
            "PROXY TCP6 ::ffff:203.0.113.7 2001:db8::1 40001 443\r\n",
            Encoding.ASCII.GetString(ProxyHeaderWriter.Write(ProxyProtocolVersion.V1, s_client, s_listener6)));
        Assert.Equal("PROXY UNKNOWN\r\n", Encoding.ASCII.GetString(ProxyHeaderWriter.Write(ProxyProtocolVersion.V1, null, s_listener)));
    }

    [Fact]
    public void V2_IPv4Header_MatchesTheSpecByteForByte()
    {
        var bytes = ProxyHeaderWriter.Write(ProxyProtocolVersion.V2, s_client, s_listener);

        Assert.Equal(
            "0D0A0D0A000D0A515549540A" + "21" + "11" + "000C" + "CB007107" + "C6336401" + "9C41" + "01BB",
            Convert.ToHexString(bytes));
    }

    [Fact]
    public void V2_LocalCommand_AndTlvs_AreConsumedWithoutAnAddress()
    {
        var local = ProxyHeaderWriter.Write(ProxyProtocolVersion.V2, null, null);
        Assert.Equal(PrefaceStatus.Parsed, Parse(local, out var header, out _));
        Assert.Equal((2, (IPEndPoint?)null, 16), (header!.Version, header.Source, header.Length));

        // An IPv4 header followed by a 7-byte TLV (type 0x01 ALPN "h2"... as the spec lays them out).
        var withTlv = ProxyHeaderWriter.Write(ProxyProtocolVersion.V2, s_client, s_listener).Concat(new byte[] { 0x01, 0x00, 0x02, (byte)'h', (byte)'2' }).ToArray();
        withTlv[15] = 12 + 5;
        Assert.Equal(PrefaceStatus.Parsed, Parse([.. withTlv, .. "payload"u8.ToArray()], out header, out _));
        Assert.Equal((s_client, 16 + 17), (header!.Source, header.Length));
    }

    [Theory]
    [InlineData(0x31, 0x11, 12, "version 3, not 2")]
    [InlineData(0x22, 0x11, 12, "command 2, neither LOCAL")]
    [InlineData(0x21, 0x41, 12, "address family 4")]
    [InlineData(0x21, 0x13, 12, "transport 3")]
    [InlineData(0x21, 0x12, 12, "datagram")]
    [InlineData(0x21, 0x11, 8, "too short for its IPv4 addresses")]
    [InlineData(0x21, 0x21, 12, "too short for its IPv6 addresses")]
    public void V2_Mistakes_AreInvalidWithAReason(byte versionAndCommand, byte family, byte length, string reason)
    {
        var bytes = new byte[16 + length];
        ProxyHeaderParser.V2Signature.CopyTo(bytes);
        (bytes[12], bytes[13], bytes[15]) = (versionAndCommand, family, length);

        Assert.Equal(PrefaceStatus.Invalid, Parse(bytes, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryTruncationOfAValidHeader_WaitsForMore_NeverParsesEarly()
    {
        var headers = new[]
        {
            Encoding.ASCII.GetBytes("PROXY TCP6 2001:db8::7 2001:db8::1 40001 443\r\n"),
            ProxyHeaderWriter.Write(ProxyProtocolVersion.V2, s_client6, s_listener6),
            ProxyHeaderWriter.Write(ProxyProtocolVersion.V2, null, null),
        };
        foreach (var header in headers)
        {
            for (var length = 0; length < header.Length; length++)
            {
                Assert.Equal(PrefaceStatus.NeedMore, Parse(header[..length], out _, out _));
            }
        }
    }

    [Fact]
    public void Fuzz_RandomAndMutatedBytes_NeverThrow_AndNeverClaimMoreThanTheBound()
    {
        var random = new Random(2026);
        var seeds = new[]
        {
            Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 198.51.100.1 40001 443\r\n"),
            ProxyHeaderWriter.Write(ProxyProtocolVersion.V2, s_client6, s_listener6),
        };
        for (var i = 0; i < 200_000; i++)
        {
            byte[] input;
            if (i % 2 == 0)
            {
                input = new byte[random.Next(0, 300)];
                random.NextBytes(input);
                if (i % 4 == 0 && input.Length >= 12)
                {
                    ProxyHeaderParser.V2Signature.CopyTo(input);
                }
            }
            else
            {
                // A valid header with a few bytes flipped, truncated or extended.
                var seed = seeds[random.Next(seeds.Length)];
                input = [.. seed, .. new byte[random.Next(0, 20)]];
                for (var flips = random.Next(1, 4); flips > 0; flips--)
                {
                    input[random.Next(input.Length)] = (byte)random.Next(256);
                }

                input = input[..random.Next(input.Length + 1)];
            }

            var status = Parse(input, out var header, out var error);

            switch (status)
            {
                case PrefaceStatus.Parsed:
                    Assert.InRange(header!.Length, 1, Math.Min(input.Length, ProxyHeaderParser.MaxV2Length));
                    Assert.True(header.Version == 2 || header.Length <= ProxyHeaderParser.MaxV1Length);
                    break;
                case PrefaceStatus.Invalid:
                    Assert.False(string.IsNullOrEmpty(error));
                    break;
                default:
                    // Waiting for more is only ever right below the bound.
                    Assert.True(input.Length < ProxyHeaderParser.MaxV2Length);
                    Assert.True(input.Length < ProxyHeaderParser.MaxV1Length || input[0] == 0x0D);
                    break;
            }
        }
    }

    [Fact]
    public void Parse_ASegmentedBuffer_ReadsAcrossSegments()
    {
        var bytes = ProxyHeaderWriter.Write(ProxyProtocolVersion.V2, s_client6, s_listener6);
        var first = new Segment(bytes.AsMemory(0, 5));
        var last = first.Append(bytes.AsMemory(5, 20)).Append(bytes.AsMemory(25));

        var status = ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length), out var header, out _);

        Assert.Equal(PrefaceStatus.Parsed, status);
        Assert.Equal(s_client6, header!.Source);
    }

    [Fact]
    public async Task Reader_TimesOutInVirtualTime_AndConsumesOnlyTheHeader()
    {
        var scheduler = new TestScheduler();
        var slow = new Pipe();
        await slow.Writer.WriteAsync(Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7"));
        // Called here, not on another thread: its timer is on the scheduler before the clock moves.
        var reading = ProxyHeaderReader.ReadAsync(slow.Reader, TimeSpan.FromSeconds(5), scheduler, CancellationToken.None);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(4.9).Ticks);
        Assert.False(reading.IsCompleted);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(0.1).Ticks);
        var (header, error) = await reading.WaitAsync(Loopback.Timeout);
        Assert.Null(header);
        Assert.Equal("no whole PROXY header arrived within 5s", error);

        var fast = new Pipe();
        await fast.Writer.WriteAsync(Encoding.ASCII.GetBytes("PROXY UNKNOWN\r\nhello"));
        (header, _) = await ProxyHeaderReader.ReadAsync(fast.Reader, TimeSpan.FromSeconds(5), scheduler, CancellationToken.None).WaitAsync(Loopback.Timeout);
        Assert.Equal(15, header!.Length);
        var rest = await fast.Reader.ReadAsync();
        Assert.Equal("hello", Encoding.ASCII.GetString(rest.Buffer));
    }

    private static PrefaceStatus Parse(byte[] bytes, out ProxyHeader? header, out string? error) =>
        ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(bytes), out header, out error);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
