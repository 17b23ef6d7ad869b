using System.Reactive;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Infrastructure;

/// <summary>
/// Seconds on Microsoft.Reactive.Testing's <see cref="TestScheduler"/>, whose ticks are <see cref="TimeSpan"/>
/// ticks (100 ns): timelines of balancer events are written in seconds, not in ticks of 100 ns.
/// </summary>
internal static class VirtualTime
{
    /// <summary>The virtual time <paramref name="seconds"/> seconds in, in ticks (to the nearest tick).</summary>
    public static long Seconds(double seconds) => (long)Math.Round(seconds * TimeSpan.TicksPerSecond);

    /// <summary>The virtual time <paramref name="ticks"/>, in seconds.</summary>
    public static double InSeconds(long ticks) => TimeSpan.FromTicks(ticks).TotalSeconds;

    /// <summary>The values <paramref name="observer"/> recorded, each with the second of virtual time it came at.</summary>
    public static List<(double Second, T Value)> Values<T>(this ITestableObserver<T> observer) =>
        [.. observer.Messages
            .Where(message => message.Value.Kind == NotificationKind.OnNext)
            .Select(message => (InSeconds(message.Time), message.Value.Value))];
}
