using System.Reactive.Concurrency;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Connections;
using LoadBalancer.Reactive.Diagnostics;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Health;

namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// Applies new options to a running balancer, live where it can (see <see cref="ConfigurationDiff"/>): validated and
/// built whole first (certificates loaded), then the fold is sent a <see cref="Reconfigured"/> input with the
/// options in force and the membership changes that turn the members into the new backends; the pieces outside the
/// fold that hold a setting (the TLS certificate, the backends' definitions, connect and idle timeouts, the queue
/// timeout, the access log, the probes) take theirs. Settings that need a restart keep the value the balancer started with.
/// </summary>
internal sealed class Reconfiguration
{
    private readonly BalancerModel _running;
    private readonly BackendCatalog _backends;
    private readonly ConnectionRegistry _connections;
    private readonly FoldTimers _timers;
    private readonly BalancerLog _log;
    private readonly IScheduler _scheduler;
    private readonly DesiredMembership _members;
    private readonly Func<ActiveHealthChecker?> _health;
    private readonly Action<BalancerInput> _post;
    private readonly Lock _gate = new();
    private volatile LoadBalancerOptions _options;
    private volatile ConnectionWork _work;

    /// <param name="running">The model the balancer was built from.</param>
    /// <param name="backends">The backends' definitions, which connections and probes read.</param>
    /// <param name="connections">The open connections, for the connections' work.</param>
    /// <param name="timers">The fold's timers (the queue timeout).</param>
    /// <param name="log">The balancer's log (the access log).</param>
    /// <param name="scheduler">The balancer's clock.</param>
    /// <param name="members">The members now (the fold's latest state).</param>
    /// <param name="health">The probes, once started.</param>
    /// <param name="post">Posts an input into the fold.</param>
    public Reconfiguration(
        BalancerModel running, BackendCatalog backends, ConnectionRegistry connections, FoldTimers timers, BalancerLog log, IScheduler scheduler,
        DesiredMembership members, Func<ActiveHealthChecker?> health, Action<BalancerInput> post)
    {
        (_running, _backends, _connections, _timers, _log, _scheduler) = (running, backends, connections, timers, log, scheduler);
        (_members, _health, _post) = (members, health, post);
        _options = running.Options;
        _work = Work(running.Options);
    }

    /// <summary>The options in force: the latest applied, with settings that need a restart as the balancer started.</summary>
    public LoadBalancerOptions Options => _options;

    /// <summary>What the fold's decisions set going for connections, with the connect and idle timeouts in force.</summary>
    public ConnectionWork Connections => _work;

    /// <summary>Applies <paramref name="options"/>; returns the keys of settings that changed but need a restart.</summary>
    /// <exception cref="LoadBalancerOptionsException">The options are invalid, or a certificate cannot be loaded; nothing was applied.</exception>
    public IReadOnlyList<string> Apply(LoadBalancerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var next = BalancerModel.Build(options);
        lock (_gate)
        {
            var current = _options;

            // While a discovery source (etcd, your own) follows the members, they are its: the configuration's backends
            // are not applied, and a change to them is reported as not applied.
            var followed = _members.Followed;
            var ignoredBackends = followed && !options.Backends.SequenceEqual(current.Backends);
            var (live, restart, effective) = ConfigurationDiff.Compare(_running.Options, current, followed ? options with { Backends = current.Backends } : options);
            if (ignoredBackends)
            {
                restart = [.. restart, "Backends"];
            }

            var applied = RenewCertificate(next, effective, live);
            if (applied.Count == 0 && restart.Count == 0)
            {
                return restart;
            }

            if (!followed && !ConfigurationDiff.FollowsDns(_running.Options))
            {
                // Every member's definition is replaced: connections assigned from now on reach it with its new TLS
                // and PROXY settings, and probes use its new health check; connections open keep theirs.
                foreach (var backend in next.Backends)
                {
                    _backends.Put(backend);
                }
            }

            if (effective.ConnectTimeout != current.ConnectTimeout || effective.IdleTimeout != current.IdleTimeout)
            {
                _work = Work(effective);
            }

            _timers.QueueTimeout = effective.QueueTimeout;
            _log.AccessLog = effective.AccessLog;
            _options = effective;

            // The fold takes its new rules first, so backends that join below do with the new default health check.
            _post(new Reconfigured(effective, new ConfigurationChanged([.. applied], [.. restart])));
            if (applied.Contains("Backends"))
            {
                foreach (var change in _members.Changes(effective.Backends))
                {
                    _post(change);
                }
            }

            _health()?.Reconfigure(_members.Current, _backends);
            return restart;
        }
    }

    // A certificate file renewed in place (the same path, new contents) is a change too: every reconfiguration with TLS
    // on loads it again, and new handshakes present the new one. Returns the keys applied, the renewal included.
    private IReadOnlyList<string> RenewCertificate(BalancerModel next, LoadBalancerOptions effective, IReadOnlyList<string> applied)
    {
        if (_running.Termination is not { } running || next.Termination is not { } loaded || !ReferenceEquals(effective.Tls, next.Options.Tls))
        {
            return applied;
        }

        var tlsChanged = applied.Any(key => key.StartsWith("Tls:", StringComparison.Ordinal));
        var renewed = running.Thumbprint != loaded.Thumbprint;
        if (tlsChanged || renewed)
        {
            running.Replace(loaded);
        }

        return renewed && !tlsChanged ? [.. applied, "Tls:CertificatePath"] : applied;
    }

    private ConnectionWork Work(LoadBalancerOptions options) =>
        new(_connections, _backends, new AttemptSettings(_scheduler, options.ConnectTimeout, options.IdleTimeout));
}
