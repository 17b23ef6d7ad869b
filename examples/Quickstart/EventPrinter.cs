using System.Globalization;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;

namespace Quickstart;

/// <summary>Turns balancer events into one readable line each.</summary>
internal static class EventPrinter
{
    /// <summary>Whether the event is about one connection (left out by --quiet), rather than a backend or the balancer.</summary>
    public static bool IsPerConnection(LoadBalancerEvent @event) => @event is ConnectionAccepted or ConnectionAssigned or BackendConnected
        or ConnectionCompleted or ConnectionQueued or ConnectAttemptFailed;

    public static string Format(LoadBalancerEvent @event)
    {
        var time = @event.Timestamp.ToLocalTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        var text = @event switch
        {
            BalancerStarted e => $"listening on {string.Join(", ", e.ListenEndPoints)}",
            BalancerStopped e => $"stopped: {e.Finished} connection(s) finished, {e.Aborted} cut at the deadline",
            ConnectionAccepted e => $"#{e.ConnectionId} accepted from {e.Client}",
            ConnectionAssigned { Attempt: 1 } e => $"#{e.ConnectionId} assigned to {e.Backend} ({e.ActiveConnections} active)",
            ConnectionAssigned e => $"#{e.ConnectionId} retried on {e.Backend}, attempt {e.Attempt} ({e.ActiveConnections} active)",
            ConnectAttemptFailed e => $"#{e.ConnectionId} could not connect to {e.Backend}: {e.Error} (attempt {e.Attempt})",
            BackendConnected e => $"#{e.ConnectionId} connected to {e.Backend} in {Milliseconds(e.ConnectTime)}",
            ConnectionCompleted e =>
                $"#{e.ConnectionId} completed on {e.Backend}: {Reason(e.Reason)}, {e.BytesFromClient} B up, "
                + $"{e.BytesFromBackend} B down, {Milliseconds(e.Duration)} ({e.ActiveConnections} active)",
            ConnectionFailed e => $"#{e.ConnectionId} FAILED after {e.Attempts} attempt(s), last on {e.Backend}: {e.Message}",
            BackendHealthChanged { Healthy: true } e => $"backend {e.Backend} is UP (health checks pass)",
            BackendHealthChanged e => $"backend {e.Backend} is DOWN (health checks fail)",
            BackendEjected e => $"backend {e.Backend} EJECTED for {Durations.Format(e.Duration)} after failures in a row (ejection #{e.Ejections})",
            BackendMembershipChanged e => e.Kind switch
            {
                MembershipChangeKind.Joined => $"backend {e.Backend} joined (weight {e.Weight})",
                MembershipChangeKind.Reweighted => $"backend {e.Backend} now has weight {e.Weight}",
                MembershipChangeKind.DrainStarted => $"backend {e.Backend} is draining: no new connections, {e.ActiveConnections} open",
                MembershipChangeKind.Drained => $"backend {e.Backend} is drained",
                MembershipChangeKind.Disabled => $"backend {e.Backend} is DISABLED (maintenance): no new connections, no probes, {e.ActiveConnections} open",
                MembershipChangeKind.Enabled => $"backend {e.Backend} is enabled again (weight {e.Weight})",
                _ => $"backend {e.Backend} left",
            },
            MembershipRejected e => $"backend update rejected: {string.Join("; ", e.Errors)}",
            BackendEjectionEnded { ByProbe: true } e => $"backend {e.Backend} is back (a health check passed)",
            BackendEjectionEnded e => $"backend {e.Backend} is back (its ejection ended)",
            ConnectionRejected e => $"#{e.ConnectionId} REJECTED from {e.Client}: {e.Reason}",
            ConnectionQueued e => $"#{e.ConnectionId} waits in the queue at place {e.Position} ({e.Reason})",
            AcceptFailed e => $"accept failed on {e.Listener}: {e.Message}",
            DiscoveryFailed e => $"backend discovery FAILED and is no longer followed: {e.Message}",
            ConfigurationChanged e => e.RestartNeeded.Count > 0
                ? $"configuration applied: {Keys(e.Applied)}; needs a restart: {string.Join(", ", e.RestartNeeded)}"
                : $"configuration applied: {Keys(e.Applied)}",
            SubscriberFaulted e => $"an event subscriber threw: {e.Exception.Message}",
            EventsDropped e => $"{e.Count} event(s) dropped: the printer fell behind",
            _ => @event.ToString(),
        };
        return $"{time}  {text}";
    }

    private static string Keys(IReadOnlyList<string> keys) => keys.Count > 0 ? string.Join(", ", keys) : "nothing changed";

    private static string Milliseconds(TimeSpan duration) =>
        $"{duration.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture)} ms";

    private static string Reason(CompletionReason reason) => reason switch
    {
        CompletionReason.ClientClosed => "client closed",
        CompletionReason.BackendClosed => "backend closed",
        CompletionReason.ClientReset => "client reset",
        CompletionReason.BackendReset => "backend reset",
        CompletionReason.Aborted => "cut by the balancer",
        CompletionReason.IdleTimeout => "idle timeout",
        _ => reason.ToString(),
    };
}
