namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// What a reconfiguration changes: every setting, named by its configuration key path relative to the balancer's
/// section (<c>Listen</c>, <c>HealthCheck:Interval</c>, as in appsettings.json and environment variables), compared between
/// the options in force and the new ones, each decided once here to change live or only on a restart.
/// </summary>
/// <remarks>
/// <para>Live: <c>Backends</c> (joins, removals, weights, states, limits, pools, health checks, TLS and PROXY settings
/// for new connections; not when DNS discovery owns the members), <c>HealthCheck:*</c> (probes restart with the new
/// settings; rise and fall apply to the next probes), <c>OutlierDetection:*</c>, <c>MaxConnectAttempts</c>,
/// <c>MaxConnections</c>, <c>MaxQueueLength</c>, <c>QueueTimeout</c> (connections queued from then on),
/// <c>SlowStart</c>, <c>PanicMode</c>, <c>Clients:*</c> (connections arriving from then on; connections open stay),
/// <c>ConnectTimeout</c> and <c>IdleTimeout</c> (connections assigned from then on), <c>AccessLog</c>, the
/// <c>Tls</c> certificate and handshake timeout while TLS stays on (new handshakes), and <c>Sni:Routes</c> while
/// routing stays on.</para>
/// <para>Restart: <c>Name</c> (metric tags), <c>Listen</c>, <c>Strategy</c>, <c>CustomStrategy</c> and
/// <c>RandomSeed</c> (the strategy's state carries on), <c>DnsRefreshInterval</c>, <c>FirstByteTimeout</c>,
/// <c>AcceptProxy:*</c> and <c>Sni:HelloTimeout</c> (what is read before balancing is set up at start),
/// <c>EventBufferCapacity</c>, <c>Tls</c> and <c>Sni:Routes</c> when they turn on or off, and <c>Backends</c> when DNS
/// discovery follows their names.</para>
/// </remarks>
internal static class ConfigurationDiff
{
    private static readonly Setting[] s_settings =
    [
        Restart("Name", (a, b) => a.Name == b.Name, (next, running) => next with { Name = running.Name }),
        Restart("Listen", (a, b) => a.Listen.SequenceEqual(b.Listen, StringComparer.Ordinal), (next, running) => next with { Listen = running.Listen }),
        new("Backends", (a, b) => a.Backends.SequenceEqual(b.Backends),
            Live: (running, _) => !FollowsDns(running), Keep: (next, running) => next with { Backends = running.Backends }),
        Restart("Strategy", (a, b) => a.Strategy == b.Strategy, (next, running) => next with { Strategy = running.Strategy }),
        Restart("CustomStrategy", (a, b) => ReferenceEquals(a.CustomStrategy, b.CustomStrategy), (next, running) => next with { CustomStrategy = running.CustomStrategy }),
        Restart("RandomSeed", (a, b) => a.RandomSeed == b.RandomSeed, (next, running) => next with { RandomSeed = running.RandomSeed }),
        Live("ConnectTimeout", (a, b) => a.ConnectTimeout == b.ConnectTimeout),
        Live("MaxConnectAttempts", (a, b) => a.MaxConnectAttempts == b.MaxConnectAttempts),
        Live("IdleTimeout", (a, b) => a.IdleTimeout == b.IdleTimeout),
        Live("HealthCheck:Enabled", (a, b) => a.HealthCheck.Enabled == b.HealthCheck.Enabled),
        Live("HealthCheck:Interval", (a, b) => a.HealthCheck.Interval == b.HealthCheck.Interval),
        Live("HealthCheck:Timeout", (a, b) => a.HealthCheck.Timeout == b.HealthCheck.Timeout),
        Live("HealthCheck:Rise", (a, b) => a.HealthCheck.Rise == b.HealthCheck.Rise),
        Live("HealthCheck:Fall", (a, b) => a.HealthCheck.Fall == b.HealthCheck.Fall),
        Live("HealthCheck:Send", (a, b) => a.HealthCheck.Send == b.HealthCheck.Send),
        Live("HealthCheck:Expect", (a, b) => a.HealthCheck.Expect == b.HealthCheck.Expect),
        Live("OutlierDetection:Enabled", (a, b) => a.OutlierDetection.Enabled == b.OutlierDetection.Enabled),
        Live("OutlierDetection:ConsecutiveFailures", (a, b) => a.OutlierDetection.ConsecutiveFailures == b.OutlierDetection.ConsecutiveFailures),
        Live("OutlierDetection:BaseEjectionTime", (a, b) => a.OutlierDetection.BaseEjectionTime == b.OutlierDetection.BaseEjectionTime),
        Live("OutlierDetection:MaxEjectionTime", (a, b) => a.OutlierDetection.MaxEjectionTime == b.OutlierDetection.MaxEjectionTime),
        Live("OutlierDetection:MaxEjectionPercent", (a, b) => a.OutlierDetection.MaxEjectionPercent == b.OutlierDetection.MaxEjectionPercent),
        Live("OutlierDetection:EjectLastAvailable", (a, b) => a.OutlierDetection.EjectLastAvailable == b.OutlierDetection.EjectLastAvailable),
        Live("MaxConnections", (a, b) => a.MaxConnections == b.MaxConnections),
        Live("MaxQueueLength", (a, b) => a.MaxQueueLength == b.MaxQueueLength),
        Live("SlowStart", (a, b) => a.SlowStart == b.SlowStart),
        Restart("DnsRefreshInterval", (a, b) => a.DnsRefreshInterval == b.DnsRefreshInterval, (next, running) => next with { DnsRefreshInterval = running.DnsRefreshInterval }),
        Restart("FirstByteTimeout", (a, b) => a.FirstByteTimeout == b.FirstByteTimeout, (next, running) => next with { FirstByteTimeout = running.FirstByteTimeout }),
        Live("QueueTimeout", (a, b) => a.QueueTimeout == b.QueueTimeout),
        Live("PanicMode", (a, b) => a.PanicMode == b.PanicMode),
        Restart("AcceptProxy:From", (a, b) => a.AcceptProxy.From.SequenceEqual(b.AcceptProxy.From, StringComparer.Ordinal),
            (next, running) => next with { AcceptProxy = next.AcceptProxy with { From = running.AcceptProxy.From } }),
        Restart("AcceptProxy:HeaderTimeout", (a, b) => a.AcceptProxy.HeaderTimeout == b.AcceptProxy.HeaderTimeout,
            (next, running) => next with { AcceptProxy = next.AcceptProxy with { HeaderTimeout = running.AcceptProxy.HeaderTimeout } }),
        // TLS turned on or off changes what is read from every client before balancing: that is set up at start.
        new("Tls", (a, b) => a.Tls.Enabled == b.Tls.Enabled, Live: (running, next) => running.Tls.Enabled == next.Tls.Enabled, Keep: (next, running) => next with { Tls = running.Tls }),
        Live("Tls:Certificate", (a, b) => ReferenceEquals(a.Tls.Certificate, b.Tls.Certificate)),
        Live("Tls:CertificatePath", (a, b) => a.Tls.CertificatePath == b.Tls.CertificatePath),
        Live("Tls:KeyPath", (a, b) => a.Tls.KeyPath == b.Tls.KeyPath),
        Live("Tls:Password", (a, b) => a.Tls.Password == b.Tls.Password),
        Live("Tls:HandshakeTimeout", (a, b) => a.Tls.HandshakeTimeout == b.Tls.HandshakeTimeout),
        // Server names are read from ClientHellos only when routes are configured at start; which pool a name goes to is the fold's.
        new("Sni:Routes", (a, b) => a.Sni.Routes.SequenceEqual(b.Sni.Routes),
            Live: (running, next) => running.Sni.Routes.Count > 0 == next.Sni.Routes.Count > 0,
            Keep: (next, running) => next with { Sni = next.Sni with { Routes = running.Sni.Routes } }),
        Restart("Sni:HelloTimeout", (a, b) => a.Sni.HelloTimeout == b.Sni.HelloTimeout,
            (next, running) => next with { Sni = next.Sni with { HelloTimeout = running.Sni.HelloTimeout } }),
        Live("Clients:Allow", (a, b) => a.Clients.Allow.SequenceEqual(b.Clients.Allow, StringComparer.Ordinal)),
        Live("Clients:Deny", (a, b) => a.Clients.Deny.SequenceEqual(b.Clients.Deny, StringComparer.Ordinal)),
        Live("Clients:Listeners", (a, b) => a.Clients.Listeners.Select(Text).SequenceEqual(b.Clients.Listeners.Select(Text), StringComparer.Ordinal)),
        Live("Clients:MaxConnections", (a, b) => a.Clients.MaxConnections == b.Clients.MaxConnections),
        Live("Clients:MaxConnectionRate", (a, b) => a.Clients.MaxConnectionRate == b.Clients.MaxConnectionRate),
        Live("Clients:ConnectionRateInterval", (a, b) => a.Clients.ConnectionRateInterval == b.Clients.ConnectionRateInterval),
        Restart("EventBufferCapacity", (a, b) => a.EventBufferCapacity == b.EventBufferCapacity,
            (next, running) => next with { EventBufferCapacity = running.EventBufferCapacity }),
        Live("AccessLog", (a, b) => a.AccessLog == b.AccessLog),
    ];

    /// <summary>Every key this diff knows, in the order it reports them.</summary>
    public static IEnumerable<string> Keys => s_settings.Select(setting => setting.Key);

    /// <summary>
    /// Compares <paramref name="next"/> with the balancer's options: settings that change live with those in force
    /// (<paramref name="current"/>), settings that need a restart with those it started with (<paramref name="running"/>),
    /// so a restart still needed is reported by every later reconfiguration until the balancer restarts.
    /// </summary>
    /// <param name="running">The options the balancer started with.</param>
    /// <param name="current">The options in force now (the start's, or the last reconfiguration's).</param>
    /// <param name="next">The new options, validated.</param>
    /// <returns>
    /// The keys applied live, the keys that need a restart, and the options in force from now on: <paramref name="next"/>
    /// with every setting that needs a restart as <paramref name="running"/> has it.
    /// </returns>
    public static (IReadOnlyList<string> Applied, IReadOnlyList<string> RestartNeeded, LoadBalancerOptions Effective) Compare(
        LoadBalancerOptions running, LoadBalancerOptions current, LoadBalancerOptions next)
    {
        var effective = next;
        var restart = new List<string>();
        foreach (var setting in s_settings.Where(setting => !setting.Live(running, next)))
        {
            effective = setting.Keep!(effective, running);
            if (!setting.Same(running, next))
            {
                restart.Add(setting.Key);
            }
        }

        // A live setting whose restart half (TLS on or off) is kept compares with the kept value: nothing to apply.
        var applied = s_settings.Where(setting => setting.Live(running, next) && !setting.Same(current, effective)).Select(setting => setting.Key).ToList();
        return (applied, restart, effective);
    }

    /// <summary>Whether DNS discovery follows the backends' names (and so owns the members, not the configuration).</summary>
    public static bool FollowsDns(LoadBalancerOptions options) =>
        options.DnsRefreshInterval > TimeSpan.Zero && Discovery.DnsDiscovery.HasHostNames(options.Backends);

    private static Setting Live(string key, Func<LoadBalancerOptions, LoadBalancerOptions, bool> same) =>
        new(key, same, Live: (_, _) => true, Keep: null);

    private static Setting Restart(
        string key, Func<LoadBalancerOptions, LoadBalancerOptions, bool> same, Func<LoadBalancerOptions, LoadBalancerOptions, LoadBalancerOptions> keep) =>
        new(key, same, Live: (_, _) => false, keep);

    private static string Text(ListenerAccess access) =>
        $"{access.Listen}|{string.Join(",", access.Allow)}|{string.Join(",", access.Deny)}";

    /// <summary>One setting.</summary>
    /// <param name="Key">Its key path.</param>
    /// <param name="Same">Whether two options agree on it.</param>
    /// <param name="Live">Whether it changes live from the running options to the new ones.</param>
    /// <param name="Keep">The new options with the running value of the setting (for one that is not live).</param>
    private sealed record Setting(
        string Key,
        Func<LoadBalancerOptions, LoadBalancerOptions, bool> Same,
        Func<LoadBalancerOptions, LoadBalancerOptions, bool> Live,
        Func<LoadBalancerOptions, LoadBalancerOptions, LoadBalancerOptions>? Keep);
}
