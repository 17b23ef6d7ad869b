using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The fold's rules: which strategy picks, how often to retry, when to eject. Fixed but for a
/// <see cref="Reconfigured"/> input, which the fold folds like any other (see <see cref="After"/>).
/// </summary>
/// <param name="Strategy">Picks a backend for each attempt.</param>
/// <param name="Random">The strategies' seeded random source.</param>
/// <param name="MaxConnectAttempts">Backends tried per connection before giving up.</param>
/// <param name="Outliers">When and for how long failing backends are ejected.</param>
/// <param name="PanicMode">When nothing is available, use every weighted backend rather than reject.</param>
/// <param name="HealthCheck">The health check of backends that do not set their own (for rise and fall when one joins).</param>
internal sealed record FoldPolicy(
    ILoadBalancingStrategy Strategy, Random Random, int MaxConnectAttempts, OutlierDetectionOptions Outliers, bool PanicMode,
    HealthCheckOptions? HealthCheck = null)
{
    /// <summary>Connections relayed (or connecting) at once, at most; 0 for no limit.</summary>
    public int MaxConnections { get; init; }

    /// <summary>Connections that may wait for a slot; 0 refuses at once.</summary>
    public int MaxQueueLength { get; init; }

    /// <summary>How long a backend takes to ramp up after joining or coming back; zero for no slow start.</summary>
    public TimeSpan SlowStart { get; init; }

    /// <summary>Access rules and per-client limits, checked before a backend is picked.</summary>
    public ClientRules Clients { get; init; } = ClientRules.None;

    /// <summary>Routes server names to pools; null when connections are not routed (every backend is one pool).</summary>
    public ServerNameRouter? Router { get; init; }

    /// <summary>The rules of a new fold: the custom strategy if there is one, else a fresh instance of the named one.</summary>
    public static FoldPolicy From(LoadBalancerOptions options) =>
        From(options, options.CustomStrategy ?? LoadBalancingStrategies.Create(options.Strategy));

    /// <summary>
    /// The rules to fold <paramref name="input"/> by: this policy, or for a <see cref="Reconfigured"/> the rules of its
    /// options with this policy's strategy and random source (their state carries on; a strategy changes only by a restart).
    /// </summary>
    public FoldPolicy After(BalancerInput input) =>
        input is Reconfigured reconfigured ? From(reconfigured.Options, Strategy) with { Random = Random } : this;

    public static FoldPolicy From(LoadBalancerOptions options, ILoadBalancingStrategy strategy) => new(
        strategy,
        options.RandomSeed is { } seed ? new Random(seed) : new Random(),
        options.MaxConnectAttempts,
        options.OutlierDetection,
        options.PanicMode,
        options.HealthCheck)
    {
        MaxConnections = options.MaxConnections,
        MaxQueueLength = options.MaxQueueLength,
        SlowStart = options.SlowStart,
        Clients = ClientRules.From(options.Clients),
        Router = options.Sni.Routes.Count > 0 ? ServerNameRouter.From(options.Sni.Routes) : null,
    };
}
