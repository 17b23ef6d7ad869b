using System.Text;
using LoadBalancer.Reactive.Admin;

namespace LoadBalancer.Reactive.Tests.Admin;

/// <summary>The runtime API's bounded line reader, over streams in memory.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public sealed class LineReaderTests
{
    [Fact]
    public async Task ReadLineAsync_LinesEndedByLfOrCrLf_AreReadWithoutTheirEnds_ThenNullAtTheEnd()
    {
        var reader = Reader("show info\r\nhelp\n\nquit\n", maxLength: 16);

        Assert.Equal(new[] { "show info", "help", "", "quit", null }, new[] { await Read(reader), await Read(reader), await Read(reader), await Read(reader), await Read(reader) });
    }

    [Fact]
    public async Task ReadLineAsync_ALineOfExactlyTheBound_IsRead_OneByteMore_IsRefused()
    {
        var reader = Reader("12345678\r\n123456789\n", maxLength: 8);

        Assert.Equal("12345678", await Read(reader));
        var refused = await Assert.ThrowsAsync<InvalidDataException>(() => Read(reader));
        Assert.Equal("line longer than 8 bytes", refused.Message);
    }

    [Fact]
    public async Task ReadLineAsync_NoLineEndWithinTheBound_IsRefusedWithoutReadingOn()
    {
        var reader = Reader(new string('a', 1000), maxLength: 8);

        await Assert.ThrowsAsync<InvalidDataException>(() => Read(reader));
    }

    [Fact]
    public async Task ReadLineAsync_ALastLineWithoutItsEnd_IsDropped()
    {
        var reader = Reader("help\nhal", maxLength: 8);

        Assert.Equal(new[] { "help", null }, new[] { await Read(reader), await Read(reader) });
    }

    private static LineReader Reader(string text, int maxLength) => new(new MemoryStream(Encoding.UTF8.GetBytes(text)), maxLength);

    private static async Task<string?> Read(LineReader reader) => await reader.ReadLineAsync(CancellationToken.None);
}
