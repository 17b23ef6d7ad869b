using System.Collections.Immutable;
using System.Globalization;
using System.Reactive.Linq;
using LoadBalancer.Reactive;
using LoadBalancer.Reactive.Diagnostics;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Quickstart;

/// <summary>
/// <c>--dashboard</c>: a live terminal table of backends with a rate line and the latest backend events,
/// redrawn from the event stream (at most four times a second, and every second anyway so rates fall to
/// zero when traffic stops).
/// </summary>
/// <remarks>
/// Rates are worked out over the last few seconds, not between two frames: the balancer counts the bytes of live
/// connections about once a second, so over a quarter of a second a steady stream would show as bursts and gaps.
/// </remarks>
internal static class Dashboard
{
    private const int RecentEvents = 6;
    private static readonly TimeSpan s_atMostEvery = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan s_atLeastEvery = TimeSpan.FromSeconds(1);

    /// <summary>How far back rates look: a few of the balancer's byte samples (one a second).</summary>
    internal static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(3);

    /// <summary>Draws until <paramref name="stop"/> is cancelled; the last frame, drawn then, stays on screen.</summary>
    public static async Task RunAsync(TcpLoadBalancer balancer, IAnsiConsole console, CancellationToken stop)
    {
        var gate = new Lock();
        var recent = ImmutableQueue<string>.Empty;
        var earlier = ImmutableQueue<BalancerStatistics>.Empty;

        IRenderable NextFrame()
        {
            lock (gate)
            {
                var now = balancer.Statistics;
                earlier = Since(earlier, now.Time - RateWindow);
                var frame = Render(now, earlier.IsEmpty ? null : earlier.Peek(), [.. recent]);
                earlier = earlier.Enqueue(now);
                return frame;
            }
        }

        // Backend and lifecycle events are listed, newest last; per-connection events only move the numbers.
        using var listing = balancer.Events
            .Where(@event => !EventPrinter.IsPerConnection(@event))
            .Subscribe(@event =>
            {
                lock (gate)
                {
                    var kept = recent.Count() == RecentEvents ? recent.Dequeue() : recent;
                    recent = kept.Enqueue($"{@event.Timestamp.ToLocalTime():HH:mm:ss} {EventPrinter.Format(@event)}");
                }
            });

        await console.Live(NextFrame()).AutoClear(false).StartAsync(async live =>
        {
            var ticks = balancer.Events.Select(_ => 0L).Merge(Observable.Interval(s_atLeastEvery)).Sample(s_atMostEvery);
            using (ticks.Subscribe(_ =>
            {
                live.UpdateTarget(NextFrame());
                live.Refresh();
            }))
            {
                await Task.Delay(Timeout.Infinite, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            live.UpdateTarget(NextFrame());
        });
    }

    /// <summary>
    /// The earlier frames' statistics still worth keeping, oldest first: the newest one read at or before
    /// <paramref name="windowStart"/> (the base rates are worked out from) and every one read after it.
    /// </summary>
    internal static ImmutableQueue<BalancerStatistics> Since(ImmutableQueue<BalancerStatistics> earlier, DateTimeOffset windowStart)
    {
        while (!earlier.IsEmpty && earlier.Dequeue() is { IsEmpty: false } rest && rest.Peek().Time <= windowStart)
        {
            earlier = rest;
        }

        return earlier;
    }

    /// <summary>One frame: the rate line, a row per backend with totals and rates, and the latest backend events.</summary>
    /// <param name="now">The statistics to draw.</param>
    /// <param name="before">Earlier statistics (a few seconds back), to work out rates; null on the first frame.</param>
    /// <param name="recent">Backend and lifecycle event lines, newest last.</param>
    public static IRenderable Render(BalancerStatistics now, BalancerStatistics? before, IReadOnlyList<string> recent)
    {
        var seconds = before is null ? 0 : (now.Time - before.Time).TotalSeconds;
        double Rate(long current, long previous) => seconds > 0 ? Math.Max(0, current - previous) / seconds : 0;
        var connectionsPerSecond = before is null ? 0 : Rate(now.Accepted, before.Accepted);
        var inPerSecond = before is null ? 0 : Rate(now.BytesFromClient, before.BytesFromClient);
        var outPerSecond = before is null ? 0 : Rate(now.BytesFromBackend, before.BytesFromBackend);
        var uptime = now.Started is { } started ? Uptime(now.Time - started) : "not started";

        var rates = new Markup(string.Create(
            CultureInfo.InvariantCulture,
            $"[bold]{connectionsPerSecond:0.0}[/] conn/s · in {Bytes(inPerSecond)}/s · out {Bytes(outPerSecond)}/s · " +
            $"[bold]{now.ActiveConnections}[/] active · {now.Accepted} accepted · {now.Queued} queued · " +
            $"{Colored(now.Rejected, "yellow")} rejected · {Colored(now.Failed, "red")} failed · up {uptime}"));

        var table = new Table().Border(TableBorder.Rounded).Expand();
        table.AddColumn("backend");
        table.AddColumn("status");
        foreach (var numeric in new[] { "weight", "active", "total", "bytes in", "bytes out", "in/s", "out/s", "failures", "ejections" })
        {
            table.AddColumn(new TableColumn(numeric).RightAligned());
        }

        table.AddColumn("last change");
        foreach (var row in now.Backends)
        {
            var change = row.LastChange is { } at ? $"{Uptime(now.Time - at)} ago: {row.LastChangeReason}" : "";
            // A backend that joined since the earlier frame counts from zero.
            var earlier = before?.Backends.FirstOrDefault(b => string.Equals(b.Backend.Address, row.Backend.Address, StringComparison.OrdinalIgnoreCase));
            table.AddRow(
                new Text(row.Backend.Address),
                new Markup($"[{StatusColor(row.Status)}]{row.Status}[/]"),
                new Text(Number(row.Backend.Weight)),
                new Text(Number(row.Backend.ActiveConnections)),
                new Text(Number(row.Backend.TotalConnections)),
                new Text(Bytes(row.BytesFromClient)),
                new Text(Bytes(row.BytesFromBackend)),
                new Text(Bytes(Rate(row.BytesFromClient, earlier?.BytesFromClient ?? 0)) + "/s"),
                new Text(Bytes(Rate(row.BytesFromBackend, earlier?.BytesFromBackend ?? 0)) + "/s"),
                new Markup(Colored(row.Backend.FailedConnections, "red")),
                new Text(Number(row.Backend.Ejections)),
                new Text(change, new Style(Color.Grey)));
        }

        table.AddRow(
            new Markup("[bold]total[/]"), new Text(""), new Text(""),
            new Markup($"[bold]{now.ActiveConnections}[/]"),
            new Markup($"[bold]{now.TotalConnections}[/]"),
            new Markup($"[bold]{Bytes(now.BytesFromClient)}[/]"),
            new Markup($"[bold]{Bytes(now.BytesFromBackend)}[/]"),
            new Markup($"[bold]{Bytes(inPerSecond)}/s[/]"),
            new Markup($"[bold]{Bytes(outPerSecond)}/s[/]"),
            new Text(""), new Text(""), new Text(""));

        var events = recent.Count == 0
            ? (IRenderable)new Text("no backend events yet", new Style(Color.Grey))
            : new Rows(recent.Select(line => new Text(line)));
        return new Rows(rates, table, new Panel(events).Header("latest backend events").Border(BoxBorder.Rounded).Expand());
    }

    private static string StatusColor(string status) => status switch
    {
        "UP" => "green",
        "SLOW" => "olive",
        "FULL" => "yellow",
        "DOWN" => "red",
        "EJECTED" => "darkorange",
        _ => "grey",
    };

    private static string Colored(long count, string color) => count == 0 ? "0" : $"[{color}]{count}[/]";

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    internal static string Bytes(double bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes:0} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024:0.0} KiB"),
        < 1024 * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024 * 1024):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024 * 1024 * 1024):0.00} GiB"),
    };

    private static string Uptime(TimeSpan time) => time switch
    {
        { TotalSeconds: < 60 } => $"{Math.Max(0, (int)time.TotalSeconds)}s",
        { TotalHours: < 1 } => $"{time.Minutes}m {time.Seconds}s",
        { TotalDays: < 1 } => $"{(int)time.TotalHours}h {time.Minutes}m",
        _ => $"{(int)time.TotalDays}d {time.Hours}h",
    };
}
