using System.Reactive.Concurrency;
using System.Reactive.Disposables;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Health;

/// <summary>
/// Probes each backend on the scheduler: the first probe one interval after start, each next one an
/// interval after the previous finished, and reports every result as a <see cref="HealthProbed"/> event
/// for the fold, which turns runs of results into health changes (rise and fall). A reconfiguration restarts the
/// probes of backends whose health check changed, with the new settings.
/// </summary>
internal sealed class ActiveHealthChecker : IDisposable
{
    private readonly IScheduler _scheduler;
    private readonly Func<BackendSnapshot, HealthCheckOptions, CancellationToken, Task<bool>> _probe;
    private readonly Action<HealthProbed> _report;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, (SerialDisposable Timer, HealthCheckOptions Options)> _timers = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _gate = new();

    /// <param name="targets">Each backend to probe, with its options; backends whose checks are disabled are left out.</param>
    /// <param name="scheduler">Times the intervals (and, through the probe, the timeouts).</param>
    /// <param name="probe">Runs one probe; true for healthy. It must not throw, but if it does that counts as unhealthy.</param>
    /// <param name="report">Receives every result.</param>
    public ActiveHealthChecker(
        IEnumerable<(BackendSnapshot Backend, HealthCheckOptions Options)> targets,
        IScheduler scheduler,
        Func<BackendSnapshot, HealthCheckOptions, CancellationToken, Task<bool>> probe,
        Action<HealthProbed> report)
    {
        _scheduler = scheduler;
        _probe = probe;
        _report = report;
        foreach (var (backend, options) in targets)
        {
            Add(backend, options);
        }
    }

    /// <summary>
    /// Probes <paramref name="members"/> (but those in maintenance) over TCP, each with the health check of its
    /// definition in <paramref name="backends"/>, read when probing starts or restarts.
    /// </summary>
    /// <param name="members">The members to probe.</param>
    /// <param name="backends">The backends' definitions, for how to reach each and its health check.</param>
    /// <param name="scheduler">Times the intervals and the probes' timeouts.</param>
    /// <param name="report">Receives every result.</param>
    public static ActiveHealthChecker OverTcp(
        IEnumerable<BackendSnapshot> members, BackendCatalog backends, IScheduler scheduler, Action<HealthProbed> report) => new(
        members.Where(member => !member.Disabled)
            .Select(member => (Backend: member, Definition: backends.Find(member.Address)))
            .Where(target => target.Definition is not null)
            .Select(target => (target.Backend, target.Definition!.HealthCheck)),
        scheduler,
        (backend, check, cancellationToken) => TcpProbe.ProbeAsync(backends.Find(backend.Address)!, check, scheduler, cancellationToken),
        report);

    /// <summary>Starts probing a backend that joined (nothing if its checks are disabled or it is probed already).</summary>
    public void Add(BackendSnapshot backend, HealthCheckOptions options)
    {
        if (!options.Enabled)
        {
            return;
        }

        var timer = new SerialDisposable();
        lock (_gate)
        {
            if (_stop.IsCancellationRequested || !_timers.TryAdd(backend.Address, (timer, options)))
            {
                return;
            }
        }

        ScheduleNext(backend, options, timer);
    }

    /// <summary>
    /// Probes members with the health checks of their (current) definitions: the probe of a backend whose check changed
    /// starts again, its first probe one new interval from now; a backend whose check was turned off is no longer
    /// probed, and one whose check was turned on is probed from now. Members in maintenance are left alone.
    /// </summary>
    /// <param name="members">The members now.</param>
    /// <param name="backends">Their definitions, with the health check each has now.</param>
    public void Reconfigure(IEnumerable<BackendSnapshot> members, BackendCatalog backends)
    {
        foreach (var member in members.Where(member => !member.Disabled))
        {
            if (backends.Find(member.Address) is not { } definition)
            {
                continue;
            }

            bool same;
            lock (_gate)
            {
                same = _timers.TryGetValue(member.Address, out var probed) ? probed.Options == definition.HealthCheck : !definition.HealthCheck.Enabled;
            }

            if (!same)
            {
                Remove(member.Address);
                Add(member, definition.HealthCheck);
            }
        }
    }

    /// <summary>Starts probing the backends that <paramref name="step"/> saw join, and stops probing those that left.</summary>
    /// <param name="step">A step of the fold.</param>
    /// <param name="backends">The backends' definitions, for the health check each joins with.</param>
    public void Follow(in Step step, BackendCatalog backends)
    {
        foreach (var change in step.Changes)
        {
            if (change is not MembershipChange membership)
            {
                continue;
            }

            // A backend in maintenance is not probed (HAProxy stops checking servers in maint).
            // A draining backend is still probed (HAProxy keeps checking a server in drain); a disabled one moved to drain
            // starts again.
            var probed = membership.Kind is Events.MembershipChangeKind.Joined or Events.MembershipChangeKind.Enabled or Events.MembershipChangeKind.DrainStarted
                && !membership.Backend.Disabled;
            if (probed && backends.Find(membership.Backend.Address) is { } joined)
            {
                Add(membership.Backend, joined.HealthCheck);
            }
            else if (membership.Kind is Events.MembershipChangeKind.Left or Events.MembershipChangeKind.Disabled)
            {
                Remove(membership.Backend.Address);
            }
        }
    }

    /// <summary>Stops probing a backend that left.</summary>
    public void Remove(string address)
    {
        (SerialDisposable Timer, HealthCheckOptions Options) probed;
        lock (_gate)
        {
            _timers.Remove(address, out probed);
        }

        probed.Timer?.Dispose();
    }

    public void Dispose()
    {
        List<SerialDisposable> timers;
        lock (_gate)
        {
            _stop.Cancel();
            timers = [.. _timers.Values.Select(probed => probed.Timer)];
            _timers.Clear();
        }

        timers.ForEach(timer => timer.Dispose());
    }

    private void ScheduleNext(BackendSnapshot backend, HealthCheckOptions options, SerialDisposable timer)
    {
        // A removed backend's timer is disposed: assigning to it then disposes the new schedule at once.
        if (!_stop.IsCancellationRequested && !timer.IsDisposed)
        {
            timer.Disposable = _scheduler.Schedule(options.Interval, () => _ = ProbeAsync(backend, options, timer));
        }
    }

    private async Task ProbeAsync(BackendSnapshot backend, HealthCheckOptions options, SerialDisposable timer)
    {
        bool healthy;
        try
        {
            healthy = await _probe(backend, options, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            healthy = false;
        }

        if (!_stop.IsCancellationRequested && !timer.IsDisposed)
        {
            _report(new HealthProbed(backend.Address, healthy));
            ScheduleNext(backend, options, timer);
        }
    }
}
