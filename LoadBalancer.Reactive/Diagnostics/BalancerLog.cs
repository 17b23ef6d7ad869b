using System.Net;
using System.Net.Sockets;
using System.Reactive.Concurrency;
using LoadBalancer.Reactive.Events;
using Microsoft.Extensions.Logging;

namespace LoadBalancer.Reactive.Diagnostics;

/// <summary>
/// What the balancer writes to ILogger, from its events: start and stop, backend health and membership, and
/// problems at Information and above; one line per connection event at Debug only, so nothing on the hot path
/// logs at Information. Refused connections are counted, and each reason is logged once per
/// <see cref="RefusalInterval"/> with its count, so a flood of refusals (an attack, a full queue) is a few lines.
/// With the access log on, every finished connection is one Information line besides.
/// </summary>
/// <param name="logger">Where to write.</param>
/// <param name="scheduler">Times the refusal windows.</param>
/// <param name="accessLog">Whether to write a line per finished connection at Information.</param>
internal sealed partial class BalancerLog(ILogger logger, IScheduler scheduler, bool accessLog = false)
{
    /// <summary>How long refusals of one reason are counted before they are logged, as one Warning with the count.</summary>
    public static readonly TimeSpan RefusalInterval = TimeSpan.FromSeconds(10);

    private readonly ILogger _logger = logger;
    private readonly Dictionary<RejectionReason, int> _refusals = [];

    /// <summary>Whether every finished connection is logged at Information; a reconfiguration turns it on or off live.</summary>
    public bool AccessLog { get; set; } = accessLog;

    /// <summary>Logs work that failed although it should not (a bug); the balancer carries on without it.</summary>
    public void WorkFaulted(Exception exception) => Log.WorkFaulted(_logger, exception);

    public void Record(LoadBalancerEvent @event)
    {
        if (AccessLog)
        {
            Access(@event);
        }

        switch (@event)
        {
            case BalancerStarted e:
                Log.Started(_logger, string.Join(", ", e.ListenEndPoints));
                break;
            case BalancerStopped e:
                FlushRefusals();
                Log.Stopped(_logger, e.Finished, e.Aborted);
                break;
            case BackendHealthChanged { Healthy: true } e:
                Log.BackendUp(_logger, e.Backend);
                break;
            case BackendHealthChanged e:
                Log.BackendDown(_logger, e.Backend);
                break;
            case BackendEjected e:
                Log.BackendEjected(_logger, e.Backend, e.Duration, e.Ejections);
                break;
            case BackendEjectionEnded e:
                Log.BackendEjectionEnded(_logger, e.Backend, e.ByProbe ? "a health check passed" : "its ejection ended");
                break;
            case BackendMembershipChanged e:
                Log.MembershipChanged(_logger, e.Backend, e.Kind, e.Weight, e.ActiveConnections);
                break;
            case ConfigurationChanged e:
                Log.Reconfigured(_logger, e.Applied.Count == 0 ? "nothing" : string.Join(", ", e.Applied));
                foreach (var key in e.RestartNeeded)
                {
                    Log.RestartNeeded(_logger, key);
                }

                break;
            case MembershipRejected e:
                Log.MembershipRejected(_logger, string.Join("; ", e.Errors));
                break;
            case DiscoveryFailed e:
                Log.DiscoveryFailed(_logger, e.Message);
                break;
            case DiscoveryReported e:
                Log.DiscoveryReported(_logger, e.Source, e.Kind, e.Message);
                break;
            case ConnectionRejected e:
                Log.Rejected(_logger, e.ConnectionId, e.Client, e.Reason);
                CountRefusal(e.Reason);
                break;
            case ConnectionFailed e:
                Log.Failed(_logger, e.ConnectionId, e.Attempts, e.Backend, e.Error, e.Message);
                break;
            case AcceptFailed e:
                Log.AcceptFailed(_logger, e.Listener, e.Error, e.Message);
                break;
            case SubscriberFaulted e:
                Log.SubscriberFaulted(_logger, e.Exception);
                break;
            case ConnectionAccepted e:
                Log.Accepted(_logger, e.ConnectionId, e.Client);
                break;
            case ConnectionAssigned e:
                Log.Assigned(_logger, e.ConnectionId, e.Backend, e.Attempt, e.ActiveConnections);
                break;
            case ConnectAttemptFailed e:
                Log.AttemptFailed(_logger, e.ConnectionId, e.Backend, e.Attempt, e.Error);
                break;
            case ConnectionQueued e:
                Log.Queued(_logger, e.ConnectionId, e.Position, e.Reason);
                break;
            case ConnectionCompleted e:
                Log.Completed(_logger, e.ConnectionId, e.Backend, e.Reason, e.BytesFromClient, e.BytesFromBackend, e.Duration);
                break;
        }
    }

    // The access log: who, through which listener, to which backend, how long (connecting, in all), how many bytes
    // each way, and how it ended; "-" where a connection never got that far.
    private void Access(LoadBalancerEvent @event)
    {
        switch (@event)
        {
            case ConnectionCompleted e:
                Log.AccessCompleted(
                    _logger, Text(e.Client), Text(e.Listener), e.Backend, e.ConnectTime.TotalMilliseconds, e.Duration.TotalMilliseconds,
                    e.BytesFromClient, e.BytesFromBackend, e.Reason);
                break;
            case ConnectionFailed e:
                Log.AccessFailed(_logger, Text(e.Client), Text(e.Listener), e.Backend, e.Attempts, e.Error);
                break;
            case ConnectionRejected e:
                Log.AccessRejected(_logger, Text(e.Client), e.Reason);
                break;
        }
    }

    private static string Text(EndPoint? endPoint) => endPoint?.ToString() ?? "-";

    // The first refusal of a reason opens its window; when the window closes, the count is logged and starts again.
    private void CountRefusal(RejectionReason reason)
    {
        lock (_refusals)
        {
            var count = _refusals.GetValueOrDefault(reason) + 1;
            _refusals[reason] = count;
            if (count > 1)
            {
                return;
            }
        }

        scheduler.Schedule(reason, RefusalInterval, (_, due) =>
        {
            FlushRefusal(due);
            return System.Reactive.Disposables.Disposable.Empty;
        });
    }

    private void FlushRefusal(RejectionReason reason)
    {
        int count;
        lock (_refusals)
        {
            if (!_refusals.Remove(reason, out count))
            {
                return;
            }
        }

        Log.Refused(_logger, count, RefusalInterval, reason);
    }

    // On stop, what is counted is logged at once rather than lost with the windows still open.
    private void FlushRefusals()
    {
        RejectionReason[] open;
        lock (_refusals)
        {
            open = [.. _refusals.Keys];
        }

        foreach (var reason in open)
        {
            FlushRefusal(reason);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Balancer listening on {ListenEndPoints}")]
        public static partial void Started(ILogger logger, string listenEndPoints);

        [LoggerMessage(2, LogLevel.Information, "Balancer stopped: {Finished} connection(s) finished, {Aborted} cut at the deadline")]
        public static partial void Stopped(ILogger logger, int finished, int aborted);

        [LoggerMessage(3, LogLevel.Information, "Configuration changed; applied live: {Applied}")]
        public static partial void Reconfigured(ILogger logger, string applied);

        [LoggerMessage(4, LogLevel.Warning, "Configuration setting {Key} changed but takes effect only when the balancer is restarted")]
        public static partial void RestartNeeded(ILogger logger, string key);

        [LoggerMessage(10, LogLevel.Information, "Backend {Backend} is up: health checks pass")]
        public static partial void BackendUp(ILogger logger, string backend);

        [LoggerMessage(11, LogLevel.Warning, "Backend {Backend} is down: health checks fail")]
        public static partial void BackendDown(ILogger logger, string backend);

        [LoggerMessage(12, LogLevel.Warning, "Backend {Backend} ejected for {Duration} after failures in a row (ejection {Ejections})")]
        public static partial void BackendEjected(ILogger logger, string backend, TimeSpan duration, int ejections);

        [LoggerMessage(13, LogLevel.Information, "Backend {Backend} is back: {Why}")]
        public static partial void BackendEjectionEnded(ILogger logger, string backend, string why);

        [LoggerMessage(14, LogLevel.Information, "Backend {Backend}: {Change} (weight {Weight}, {ActiveConnections} open)")]
        public static partial void MembershipChanged(ILogger logger, string backend, MembershipChangeKind change, int weight, int activeConnections);

        [LoggerMessage(15, LogLevel.Warning, "Backend update rejected, the members stay as they were: {Errors}")]
        public static partial void MembershipRejected(ILogger logger, string errors);

        [LoggerMessage(20, LogLevel.Debug, "Connection {ConnectionId} from {Client} rejected: {Reason}")]
        public static partial void Rejected(ILogger logger, long connectionId, EndPoint client, RejectionReason reason);

        [LoggerMessage(21, LogLevel.Warning, "Connection {ConnectionId} failed after {Attempts} attempt(s), last on {Backend} ({Error}): {Message}")]
        public static partial void Failed(ILogger logger, long connectionId, int attempts, string backend, SocketError error, string message);

        [LoggerMessage(22, LogLevel.Error, "Accepting on {Listener} failed ({Error}): {Message}; pausing before the next accept")]
        public static partial void AcceptFailed(ILogger logger, EndPoint listener, SocketError error, string message);

        [LoggerMessage(25, LogLevel.Critical, "Balancer work failed unexpectedly; the balancer carries on without it")]
        public static partial void WorkFaulted(ILogger logger, Exception exception);

        [LoggerMessage(23, LogLevel.Error, "An event subscriber threw; the balancer carries on")]
        public static partial void SubscriberFaulted(ILogger logger, Exception exception);

        [LoggerMessage(40, LogLevel.Information,
            "{Client} [{Listener}] {Backend} {ConnectMilliseconds:0.0}/{TotalMilliseconds:0.0} ms {BytesFromClient}/{BytesFromBackend} B {Ending}")]
        public static partial void AccessCompleted(
            ILogger logger, string client, string listener, string backend, double connectMilliseconds, double totalMilliseconds,
            long bytesFromClient, long bytesFromBackend, CompletionReason ending);

        [LoggerMessage(41, LogLevel.Information, "{Client} [{Listener}] {Backend} failed after {Attempts} attempt(s): {Error}")]
        public static partial void AccessFailed(ILogger logger, string client, string listener, string backend, int attempts, SocketError error);

        [LoggerMessage(42, LogLevel.Information, "{Client} rejected: {Reason}")]
        public static partial void AccessRejected(ILogger logger, string client, RejectionReason reason);

        [LoggerMessage(26, LogLevel.Warning, "{Count} connection(s) refused in the last {Interval}: {Reason}")]
        public static partial void Refused(ILogger logger, int count, TimeSpan interval, RejectionReason reason);

        [LoggerMessage(16, LogLevel.Error, "Backend discovery failed and is no longer followed; the members stay as they are: {Message}")]
        public static partial void DiscoveryFailed(ILogger logger, string message);

        [LoggerMessage(17, LogLevel.Warning, "Backend discovery from {Source}: {Kind}: {Message}")]
        public static partial void DiscoveryReported(ILogger logger, string source, DiscoveryReportKind kind, string message);

        [LoggerMessage(30, LogLevel.Debug, "Connection {ConnectionId} accepted from {Client}")]
        public static partial void Accepted(ILogger logger, long connectionId, EndPoint client);

        [LoggerMessage(31, LogLevel.Debug, "Connection {ConnectionId} assigned to {Backend} (attempt {Attempt}, {ActiveConnections} active)")]
        public static partial void Assigned(ILogger logger, long connectionId, string backend, int attempt, int activeConnections);

        [LoggerMessage(32, LogLevel.Debug, "Connection {ConnectionId} could not connect to {Backend} (attempt {Attempt}): {Error}")]
        public static partial void AttemptFailed(ILogger logger, long connectionId, string backend, int attempt, SocketError error);

        [LoggerMessage(33, LogLevel.Debug, "Connection {ConnectionId} waits in the queue at place {Position} ({Reason})")]
        public static partial void Queued(ILogger logger, long connectionId, int position, QueueReason reason);

        [LoggerMessage(34, LogLevel.Debug, "Connection {ConnectionId} on {Backend} ended ({Reason}): {BytesFromClient} B up, {BytesFromBackend} B down in {Duration}")]
        public static partial void Completed(
            ILogger logger, long connectionId, string backend, CompletionReason reason, long bytesFromClient, long bytesFromBackend, TimeSpan duration);
    }
}
