using System.Reactive.Linq;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using LoadBalancer.Reactive;

namespace HostedBalancer.Stats;

/// <summary>
/// A stats page in the spirit of HAProxy's: <c>/</c> is the page (with its charting library, uPlot, under
/// <c>/vendor/</c>), <c>/stats</c> the numbers as JSON, and
/// <c>/stats/stream</c> pushes them as server-sent events whenever the balancer's events say something
/// changed (at most four times a second), and every second anyway, so the charts move on and bytes that
/// long connections relay show while they flow.
/// </summary>
internal static class StatsPage
{
    private static readonly TimeSpan s_atMostEvery = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan s_atLeastEvery = TimeSpan.FromSeconds(1);

    public static IEndpointRouteBuilder MapStatsPage(this IEndpointRouteBuilder endpoints)
    {
        var page = Read("stats.html");
        var uplotScript = Read("uplot.js");
        var uplotStyle = Read("uplot.css");
        endpoints.MapGet("/", () => Results.Content(page, "text/html; charset=utf-8"));
        endpoints.MapGet("/vendor/uplot.js", () => Results.Content(uplotScript, "text/javascript; charset=utf-8"));
        endpoints.MapGet("/vendor/uplot.css", () => Results.Content(uplotStyle, "text/css; charset=utf-8"));
        endpoints.MapGet("/stats", (TcpLoadBalancer balancer) => StatsView.From(balancer.Statistics));
        endpoints.MapGet("/stats/stream", (TcpLoadBalancer balancer, CancellationToken aborted) =>
            TypedResults.ServerSentEvents(Updates(balancer, aborted), eventType: "stats"));
        return endpoints;
    }

    /// <summary>
    /// The view now, then again after each burst of events (sampled) or a quiet spell. A browser that reads
    /// slowly gets the latest view, never a backlog: the channel keeps only the newest.
    /// </summary>
    private static async IAsyncEnumerable<StatsView> Updates(TcpLoadBalancer balancer, [EnumeratorCancellation] CancellationToken aborted)
    {
        var latest = Channel.CreateBounded<StatsView>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
        var changes = balancer.Events
            .Select(_ => 0L)
            .Merge(Observable.Interval(s_atLeastEvery))
            .Sample(s_atMostEvery)
            .StartWith(0L)
            .Select(_ => StatsView.From(balancer.Statistics));
        using var subscription = changes.Subscribe(
            view => latest.Writer.TryWrite(view),
            error => latest.Writer.TryComplete(error),
            () => latest.Writer.TryComplete());

        await foreach (var view in latest.Reader.ReadAllAsync(aborted))
        {
            yield return view;
        }
    }

    private static string Read(string resource)
    {
        using var stream = typeof(StatsPage).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The stats page's {resource} is not embedded in the assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
