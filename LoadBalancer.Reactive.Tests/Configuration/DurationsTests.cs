using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Tests.Configuration;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class DurationsTests
{
    [Theory]
    [InlineData("500ms", 5_000_000L)]
    [InlineData("2s", 20_000_000L)]
    [InlineData("1.5s", 15_000_000L)]
    [InlineData("1m", 600_000_000L)]
    [InlineData("1h", 36_000_000_000L)]
    [InlineData(" 0 ", 0L)]
    [InlineData("0.25ms", 2_500L)]
    public void TryParse_ValidDuration_Parses(string text, long ticks)
    {
        Assert.True(Durations.TryParse(text, out var duration, out var error), error);
        Assert.Equal(ticks, duration.Ticks);
    }

    [Theory]
    [InlineData("5", "'5' has no unit; write it like 500ms, 2s, 1m or 1h")]
    [InlineData("", "'' has no unit; write it like 500ms, 2s, 1m or 1h")]
    [InlineData(null, "'' has no unit; write it like 500ms, 2s, 1m or 1h")]
    [InlineData("fast s", "'fast s' is not a number followed by ms, s, m or h")]
    [InlineData("-1s", "'-1s' is not a number followed by ms, s, m or h")]
    [InlineData("99999999999999h", "'99999999999999h' is too long")]
    public void TryParse_InvalidDuration_SaysWhy(string? text, string expected)
    {
        Assert.False(Durations.TryParse(text, out _, out var error));
        Assert.Equal(expected, error);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("250ms")]
    [InlineData("2s")]
    [InlineData("3m")]
    [InlineData("1h")]
    [InlineData("1.5ms")]
    public void Format_RoundTrips(string text)
    {
        Assert.True(Durations.TryParse(text, out var duration, out _));
        Assert.Equal(text, Durations.Format(duration));
    }
}
