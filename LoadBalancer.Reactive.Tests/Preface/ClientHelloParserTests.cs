using System.Buffers;
using System.Security.Authentication;
using LoadBalancer.Reactive.Preface;

namespace LoadBalancer.Reactive.Tests.Preface;

/// <summary>The ClientHello parser against hellos from real SslStream clients, every truncation, and random damage.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class ClientHelloParserTests
{
    [Theory]
    [InlineData("api.example.com", SslProtocols.None)]
    [InlineData("API.Example.COM", SslProtocols.Tls12)]
    [InlineData("www.example.com", SslProtocols.Tls13)]
    [InlineData(null, SslProtocols.None)]
    public async Task RealClientHellos_GiveTheirServerName_AndTheirWholeLength(string? serverName, SslProtocols protocols)
    {
        var hello = await Infrastructure.Tls.CaptureClientHelloAsync(serverName, protocols);

        Assert.Equal(PrefaceStatus.Parsed, Parse(hello, out var parsed, out var error));
        Assert.Null(error);
        Assert.Equal((serverName?.ToLowerInvariant(), hello.Length), (parsed!.ServerName, parsed.Length));
    }

    [Fact]
    public async Task EveryTruncation_WaitsForMore_AndASplitAcrossRecords_ReadsTheSame()
    {
        var hello = await Infrastructure.Tls.CaptureClientHelloAsync("api.example.com");
        for (var length = 0; length < hello.Length; length++)
        {
            Assert.Equal(PrefaceStatus.NeedMore, Parse(hello[..length], out _, out _));
        }

        // The same handshake message cut into two records, as a client may send it.
        var message = hello[5..];
        var cut = message.Length / 3;
        byte[] Record(byte[] fragment) => [22, 3, 1, (byte)(fragment.Length >> 8), (byte)fragment.Length, .. fragment];
        var split = Record(message[..cut]).Concat(Record(message[cut..])).ToArray();
        Assert.Equal(PrefaceStatus.Parsed, Parse(split, out var parsed, out _));
        Assert.Equal(("api.example.com", split.Length), (parsed!.ServerName, parsed.Length));
    }

    [Theory]
    [InlineData("474554202F20485454502F312E310D0A", "did not start with a TLS handshake record")]
    [InlineData("1703030010", "did not start with a TLS handshake record")]
    [InlineData("1602", "did not start with a TLS handshake record")]
    [InlineData("1603050010", "version 3.5")]
    [InlineData("1603010000", "record of 0 bytes")]
    [InlineData("1603014001", "record of 16385 bytes")]
    [InlineData("160301000102", "type 2, not a ClientHello")]
    public void NotAClientHello_IsRefusedAsSoonAsItShows(string hex, string reason)
    {
        Assert.Equal(PrefaceStatus.Invalid, Parse(Convert.FromHexString(hex), out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DamagedLengths_AreInvalid_NotMisread()
    {
        var hello = await Infrastructure.Tls.CaptureClientHelloAsync("api.example.com");
        var longerBody = (byte[])hello.Clone();
        longerBody[8]++; // the handshake length now runs past the record
        var shorterBody = (byte[])hello.Clone();
        shorterBody[8]--; // now the record holds more than the ClientHello

        Assert.Equal(PrefaceStatus.NeedMore, Parse(longerBody, out _, out _));
        Assert.Equal(PrefaceStatus.Invalid, Parse(shorterBody, out _, out var error));
        Assert.Contains("more than the ClientHello", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fuzz_RandomAndMutatedHellos_NeverThrow_AndNeverReadPastTheBound()
    {
        var seeds = new[]
        {
            await Infrastructure.Tls.CaptureClientHelloAsync("api.example.com"),
            await Infrastructure.Tls.CaptureClientHelloAsync(null, SslProtocols.Tls12),
        };
        var random = new Random(2026);
        for (var i = 0; i < 100_000; i++)
        {
            byte[] input;
            if (i % 3 == 0)
            {
                input = new byte[random.Next(0, 600)];
                random.NextBytes(input);
                if (input.Length >= 3)
                {
                    (input[0], input[1], input[2]) = (22, 3, (byte)random.Next(5));
                }
            }
            else
            {
                var seed = seeds[random.Next(seeds.Length)];
                input = (byte[])seed.Clone();
                for (var flips = random.Next(1, 4); flips > 0; flips--)
                {
                    input[random.Next(input.Length)] = (byte)random.Next(256);
                }

                input = input[..random.Next(input.Length + 1)];
            }

            switch (Parse(input, out var hello, out var error))
            {
                case PrefaceStatus.Parsed:
                    Assert.InRange(hello!.Length, 1, Math.Min(input.Length, ClientHelloParser.MaxLength));
                    Assert.True(hello.ServerName is null || hello.ServerName == hello.ServerName.ToLowerInvariant());
                    break;
                case PrefaceStatus.Invalid:
                    Assert.False(string.IsNullOrEmpty(error));
                    break;
                default:
                    Assert.True(input.Length < ClientHelloParser.MaxLength);
                    break;
            }
        }
    }

    [Fact]
    public void AHelloDeclaringMoreThanTheBound_IsRefused_BeforeItIsAllRead()
    {
        // A record header promising a 16 KiB fragment, then a handshake header promising 1 MiB.
        byte[] start = [22, 3, 1, 0x40, 0x00, 1, 0x10, 0x00, 0x00];
        var input = start.Concat(new byte[16384 - 4]).ToArray();

        Assert.Equal(PrefaceStatus.Invalid, Parse(input, out _, out var error));
        Assert.Contains("more than 32768", error, StringComparison.Ordinal);
    }

    private static PrefaceStatus Parse(byte[] bytes, out ClientHello? hello, out string? error) =>
        ClientHelloParser.Parse(new ReadOnlySequence<byte>(bytes), out hello, out error);
}
