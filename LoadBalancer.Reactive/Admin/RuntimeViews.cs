using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Diagnostics;

namespace LoadBalancer.Reactive.Admin;

/// <summary>The runtime API's three views of a balancer, each as lines of text and as JSON.</summary>
internal static class RuntimeViews
{
    private static readonly string s_version =
        typeof(TcpLoadBalancer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(TcpLoadBalancer).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    /// <summary>A backend's state in one word: disabled, draining, down, ejected or up, in that order of precedence.</summary>
    public static string StateOf(BackendSnapshot backend) => backend switch
    {
        { Disabled: true } => "disabled",
        { Draining: true } or { Removing: true } => "draining",
        { Healthy: false } => "down",
        { Ejected: true } => "ejected",
        _ => "up",
    };

    public static RuntimeReply Info(TcpLoadBalancer balancer)
    {
        var statistics = balancer.Statistics;
        var uptime = statistics.Started is { } started ? statistics.Time - started : (TimeSpan?)null;
        var state = StateOf(balancer.Lifecycle);
        var strategy = StrategyOf(balancer);
        var up = statistics.Backends.Count(row => StateOf(row.Backend) == "up");
        // The process's memory, as HAProxy's show info gives its pools': resident, and the GC heap after its last collection.
        var resident = Environment.WorkingSet;
        var gc = GC.GetGCMemoryInfo();
        var collections = new[] { GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2) };

        // Each field as a text line ("key: value") and a JSON property (camelCase, numbers as numbers).
        var fields = new (string Key, string JsonKey, string Text, JsonNode? Json)[]
        {
            ("name", "name", balancer.Options.Name, balancer.Options.Name),
            ("version", "version", s_version, s_version),
            ("state", "state", state, state),
            ("uptime", "uptimeSeconds", uptime is { } span ? Ago(span) : "-", uptime?.TotalSeconds),
            ("started", "started", statistics.Started?.ToString("O", CultureInfo.InvariantCulture) ?? "-",
                statistics.Started?.ToString("O", CultureInfo.InvariantCulture)),
            ("listen", "listen", balancer.ListenEndPoints.Count == 0 ? "-" : string.Join(", ", balancer.ListenEndPoints),
                new JsonArray([.. balancer.ListenEndPoints.Select(endPoint => (JsonNode)endPoint.ToString())])),
            ("strategy", "strategy", strategy, strategy),
            ("panic-mode", "panicMode", balancer.PanicMode ? "on" : "off", balancer.PanicMode),
            ("accepted", "accepted", Number(statistics.Accepted), statistics.Accepted),
            ("rejected", "rejected", Number(statistics.Rejected), statistics.Rejected),
            ("failed", "failed", Number(statistics.Failed), statistics.Failed),
            ("active", "active", Number(statistics.ActiveConnections), statistics.ActiveConnections),
            ("queued", "queued", Number(balancer.QueueLength), balancer.QueueLength),
            ("queued-total", "queuedTotal", Number(statistics.Queued), statistics.Queued),
            ("backends", "backends", Number(statistics.Backends.Count), statistics.Backends.Count),
            ("backends-up", "backendsUp", Number(up), up),
            ("memory-resident", "memoryResidentBytes", Mebibytes(resident), resident),
            ("gc-heap", "gcHeapBytes", Mebibytes(gc.HeapSizeBytes), gc.HeapSizeBytes),
            ("gc-committed", "gcCommittedBytes", Mebibytes(gc.TotalCommittedBytes), gc.TotalCommittedBytes),
            ("gc-collections", "gcCollections", $"gen0 {collections[0]}, gen1 {collections[1]}, gen2 {collections[2]}",
                new JsonArray([.. collections.Select(count => (JsonNode)count)])),
        };

        var json = new JsonObject();
        foreach (var field in fields)
        {
            json[field.JsonKey] = field.Json;
        }

        return RuntimeReply.Ok(string.Join('\n', fields.Select(field => $"{field.Key}: {field.Text}")), json);
    }

    public static RuntimeReply Backends(BalancerStatistics statistics)
    {
        var header = new[] { "address", "state", "weight", "pool", "active", "total", "failures", "from-client", "from-backend", "last-change" };
        var rows = statistics.Backends.Select(row => new[]
        {
            row.Backend.Address,
            StateOf(row.Backend),
            Number(row.Backend.Weight),
            row.Backend.Pool ?? "-",
            Number(row.Backend.ActiveConnections),
            Number(row.Backend.TotalConnections),
            Number(row.Backend.FailedConnections),
            Number(row.BytesFromClient),
            Number(row.BytesFromBackend),
            row.LastChange is { } at ? $"{Ago(statistics.Time - at)} ago: {row.LastChangeReason}" : "-",
        }).ToList();

        var json = new JsonArray([.. statistics.Backends.Select(row => (JsonNode)new JsonObject
        {
            ["address"] = row.Backend.Address,
            ["state"] = StateOf(row.Backend),
            ["weight"] = row.Backend.Weight,
            ["pool"] = row.Backend.Pool,
            ["active"] = row.Backend.ActiveConnections,
            ["total"] = row.Backend.TotalConnections,
            ["completed"] = row.Completed,
            ["failures"] = row.Backend.FailedConnections,
            ["ejections"] = row.Backend.Ejections,
            ["healthy"] = row.Backend.Healthy,
            ["bytesFromClient"] = row.BytesFromClient,
            ["bytesFromBackend"] = row.BytesFromBackend,
            ["lastChange"] = row.LastChange?.ToString("O", CultureInfo.InvariantCulture),
            ["lastChangeReason"] = row.LastChangeReason,
        })]);
        return RuntimeReply.Ok(Table(header, rows), new JsonObject { ["backends"] = json });
    }

    public static RuntimeReply Connections(TcpLoadBalancer balancer)
    {
        var snapshot = balancer.Snapshot;
        var open = balancer.OpenConnections;
        var queued = balancer.QueueLength;
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"open: {open}\n")
            .Append(CultureInfo.InvariantCulture, $"active: {snapshot.ActiveConnections}\n")
            .Append(CultureInfo.InvariantCulture, $"queued: {queued}");
        foreach (var backend in snapshot.Backends)
        {
            text.Append(CultureInfo.InvariantCulture, $"\nbackend {backend.Address}: {backend.ActiveConnections}");
        }

        return RuntimeReply.Ok(text.ToString(), new JsonObject
        {
            ["open"] = open,
            ["active"] = snapshot.ActiveConnections,
            ["queued"] = queued,
            ["backends"] = new JsonArray([.. snapshot.Backends.Select(backend =>
                (JsonNode)new JsonObject { ["address"] = backend.Address, ["active"] = backend.ActiveConnections })]),
        });
    }

    private static string StateOf(BalancerLifecycle lifecycle) => lifecycle switch
    {
        BalancerLifecycle.NotStarted => "not-started",
        BalancerLifecycle.Listening => "running",
        BalancerLifecycle.Stopping => "stopping",
        _ => "stopped",
    };

    private static string StrategyOf(TcpLoadBalancer balancer) =>
        balancer.Options.CustomStrategy is { } custom ? custom.GetType().Name : balancer.Options.Strategy;

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Mebibytes(long bytes) => (bytes / 1048576.0).ToString("0.0 'MiB'", CultureInfo.InvariantCulture);

    /// <summary>A span as people read it: <c>42s</c>, <c>3m 5s</c>, <c>2h 10m</c>, <c>3d 4h</c>.</summary>
    private static string Ago(TimeSpan span)
    {
        var seconds = (long)Math.Max(0, span.TotalSeconds);
        return seconds switch
        {
            < 60 => $"{seconds}s",
            < 3600 => $"{seconds / 60}m {seconds % 60}s",
            < 86400 => $"{seconds / 3600}h {seconds % 3600 / 60}m",
            _ => $"{seconds / 86400}d {seconds % 86400 / 3600}h",
        };
    }

    // Columns padded to their widest cell, the last one left as it is (it holds free text).
    private static string Table(string[] header, IReadOnlyList<string[]> rows)
    {
        var widths = header.Select((title, column) => rows.Select(row => row[column].Length).Prepend(title.Length).Max()).ToArray();
        string Line(string[] cells) =>
            string.Concat(cells.Select((cell, column) => column == cells.Length - 1 ? cell : cell.PadRight(widths[column] + 2)));
        return string.Join('\n', rows.Select(Line).Prepend(Line(header)));
    }
}
