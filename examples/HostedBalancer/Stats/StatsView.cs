using LoadBalancer.Reactive.Diagnostics;

namespace HostedBalancer.Stats;

/// <summary>What the stats page draws: <see cref="BalancerStatistics"/> flattened for JSON.</summary>
internal sealed record StatsView(
    DateTimeOffset Time,
    DateTimeOffset? Started,
    long Accepted,
    long Rejected,
    long Failed,
    long Queued,
    int Active,
    long Total,
    long BytesIn,
    long BytesOut,
    IReadOnlyList<StatsRow> Backends)
{
    public static StatsView From(BalancerStatistics statistics) => new(
        statistics.Time,
        statistics.Started,
        statistics.Accepted,
        statistics.Rejected,
        statistics.Failed,
        statistics.Queued,
        statistics.ActiveConnections,
        statistics.TotalConnections,
        statistics.BytesFromClient,
        statistics.BytesFromBackend,
        [.. statistics.Backends.Select(StatsRow.From)]);
}

/// <summary>One backend's row: bytes "in" came from clients, bytes "out" went back to them, as HAProxy counts.</summary>
internal sealed record StatsRow(
    string Backend,
    string Status,
    int Weight,
    int Active,
    long Total,
    long BytesIn,
    long BytesOut,
    long Failures,
    int Ejections,
    DateTimeOffset? LastChange,
    string? LastChangeReason)
{
    public static StatsRow From(BackendStatistics row) => new(
        row.Backend.Address,
        row.Status,
        row.Backend.Weight,
        row.Backend.ActiveConnections,
        row.Backend.TotalConnections,
        row.BytesFromClient,
        row.BytesFromBackend,
        row.Backend.FailedConnections,
        row.Backend.Ejections,
        row.LastChange,
        row.LastChangeReason);
}
