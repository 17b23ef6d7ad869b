using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Diagnostics;

/// <summary>
/// Counts the balancer's events, and the bytes its relays move, into <see cref="BalancerStatistics"/>: called for
/// every event as it is published and every count of bytes (from the fold's steps, on whichever thread folds them),
/// and read at any time.
/// </summary>
internal sealed class StatisticsRecorder
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Row> _rows = new(StringComparer.Ordinal);
    private DateTimeOffset? _started;
    private long _accepted;
    private long _rejected;
    private long _failed;
    private long _queued;

    /// <summary>Counts what <paramref name="event"/> says.</summary>
    public void Record(LoadBalancerEvent @event)
    {
        lock (_gate)
        {
            switch (@event)
            {
                case BalancerStarted:
                    _started = @event.Timestamp;
                    break;
                case ConnectionAccepted:
                    _accepted++;
                    break;
                case ConnectionRejected:
                    _rejected++;
                    break;
                case ConnectionQueued:
                    _queued++;
                    break;
                case ConnectionFailed:
                    _failed++;
                    break;
                case ConnectionCompleted completed:
                    RowOf(completed.Backend).Completed++;
                    break;
                case BackendHealthChanged health:
                    Changed(health.Backend, health.Healthy ? "up: health checks passed" : "down: health checks failed", @event);
                    break;
                case BackendEjected ejected:
                    Changed(ejected.Backend, $"ejected for {ejected.Duration.TotalSeconds:0.#}s (ejection {ejected.Ejections})", @event);
                    break;
                case BackendEjectionEnded returned:
                    Changed(returned.Backend, returned.ByProbe ? "returned: a probe succeeded" : "returned: ejection ended", @event);
                    break;
                case BackendMembershipChanged membership:
                    Changed(membership.Backend, Describe(membership), @event);
                    break;
            }
        }
    }

    /// <summary>
    /// Counts bytes relayed for a backend: while they flow (samples of live relays, about once a second) and the rest
    /// when a connection ends, never twice for the same bytes.
    /// </summary>
    public void RecordBytes(string backend, long fromClient, long fromBackend)
    {
        lock (_gate)
        {
            var row = RowOf(backend);
            row.BytesFromClient += fromClient;
            row.BytesFromBackend += fromBackend;
        }
    }

    /// <summary>The counters with each backend's state from <paramref name="snapshot"/>.</summary>
    public BalancerStatistics Read(BalancerSnapshot snapshot, DateTimeOffset now)
    {
        lock (_gate)
        {
            var rows = snapshot.Backends
                .Select(backend => _rows.TryGetValue(backend.Address, out var row)
                    ? new BackendStatistics(backend, row.BytesFromClient, row.BytesFromBackend, row.Completed, row.LastChange, row.LastChangeReason)
                    : new BackendStatistics(backend, 0, 0, 0, null, null))
                .ToArray();
            return new BalancerStatistics(now, _started, _accepted, _rejected, _failed, _queued, rows);
        }
    }

    private static string Describe(BackendMembershipChanged change) => change.Kind switch
    {
        MembershipChangeKind.Joined => $"joined with weight {change.Weight}",
        MembershipChangeKind.Reweighted => $"weight set to {change.Weight}",
        MembershipChangeKind.DrainStarted => "draining",
        MembershipChangeKind.Drained => "drained",
        MembershipChangeKind.Disabled => "disabled",
        MembershipChangeKind.Enabled => "enabled",
        _ => "left",
    };

    private void Changed(string backend, string reason, LoadBalancerEvent @event)
    {
        var row = RowOf(backend);
        row.LastChange = @event.Timestamp;
        row.LastChangeReason = reason;
    }

    private Row RowOf(string backend)
    {
        if (!_rows.TryGetValue(backend, out var row))
        {
            row = new Row();
            _rows.Add(backend, row);
        }

        return row;
    }

    private sealed class Row
    {
        public long BytesFromClient;
        public long BytesFromBackend;
        public long Completed;
        public DateTimeOffset? LastChange;
        public string? LastChangeReason;
    }
}
