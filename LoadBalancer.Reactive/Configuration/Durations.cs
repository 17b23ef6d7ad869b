using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// Durations as people write them on command lines and in configuration files: a number and a unit,
/// <c>250ms</c>, <c>2s</c>, <c>1.5m</c>, <c>1h</c>; a bare <c>0</c> means zero.
/// </summary>
public static class Durations
{
    /// <summary>Parses <paramref name="text"/>, or returns false with a sentence saying what is wrong.</summary>
    /// <param name="text">The duration as written.</param>
    /// <param name="duration">The parsed duration.</param>
    /// <param name="error">Why it does not parse.</param>
    public static bool TryParse(string? text, out TimeSpan duration, [NotNullWhen(false)] out string? error)
    {
        duration = TimeSpan.Zero;
        var trimmed = text?.Trim() ?? string.Empty;
        if (trimmed == "0")
        {
            error = null;
            return true;
        }

        var (number, scale) = trimmed switch
        {
            _ when trimmed.EndsWith("ms", StringComparison.Ordinal) => (trimmed[..^2], TimeSpan.FromMilliseconds(1)),
            _ when trimmed.EndsWith('s') => (trimmed[..^1], TimeSpan.FromSeconds(1)),
            _ when trimmed.EndsWith('m') => (trimmed[..^1], TimeSpan.FromMinutes(1)),
            _ when trimmed.EndsWith('h') => (trimmed[..^1], TimeSpan.FromHours(1)),
            _ => (string.Empty, TimeSpan.Zero),
        };

        if (scale == TimeSpan.Zero)
        {
            error = $"'{text}' has no unit; write it like 500ms, 2s, 1m or 1h";
            return false;
        }

        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            error = $"'{text}' is not a number followed by ms, s, m or h";
            return false;
        }

        var ticks = value * scale.Ticks;
        if (ticks > TimeSpan.MaxValue.Ticks)
        {
            error = $"'{text}' is too long";
            return false;
        }

        duration = TimeSpan.FromTicks((long)Math.Round(ticks));
        error = null;
        return true;
    }

    /// <summary>Writes a duration the way <see cref="TryParse"/> reads it, in the largest whole unit.</summary>
    /// <param name="duration">The duration.</param>
    public static string Format(TimeSpan duration) => duration switch
    {
        { Ticks: 0 } => "0",
        _ when duration.Ticks % TimeSpan.TicksPerHour == 0 => $"{duration.Ticks / TimeSpan.TicksPerHour}h",
        _ when duration.Ticks % TimeSpan.TicksPerMinute == 0 => $"{duration.Ticks / TimeSpan.TicksPerMinute}m",
        _ when duration.Ticks % TimeSpan.TicksPerSecond == 0 => $"{duration.Ticks / TimeSpan.TicksPerSecond}s",
        _ => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMilliseconds:0.###}ms"),
    };
}
