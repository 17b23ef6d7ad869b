namespace LoadBalancer.Reactive.Balancing.Strategies;

/// <summary>The names of the built-in strategies, as written in options and on the command line.</summary>
public static class LoadBalancingStrategies
{
    /// <summary>The backend with the fewest active connections; ties take turns. The default.</summary>
    public const string LeastConnections = "least-connections";

    /// <summary>The backend with the fewest active connections per unit of weight; ties take turns.</summary>
    public const string WeightedLeastConnections = "weighted-least-connections";

    /// <summary>Each available backend in turn.</summary>
    public const string RoundRobin = "round-robin";

    /// <summary>Smooth weighted round robin (nginx's): in proportion to weight, interleaved, never in bursts.</summary>
    public const string WeightedRoundRobin = "weighted-round-robin";

    /// <summary>A random backend, in proportion to weight.</summary>
    public const string Random = "random";

    /// <summary>The less loaded of two different random backends.</summary>
    public const string PowerOfTwoChoices = "power-of-two-choices";

    /// <summary>A hash of the client's IP address: a client sticks to one backend while the available set is unchanged.</summary>
    public const string SourceIpHash = "source-ip-hash";

    /// <summary>Maglev consistent hashing of the client's IP address: when a backend leaves, only its clients move.</summary>
    public const string Maglev = "maglev";

    /// <summary>Every valid strategy name.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        LeastConnections, WeightedLeastConnections, RoundRobin, WeightedRoundRobin,
        Random, PowerOfTwoChoices, SourceIpHash, Maglev,
    ];

    /// <summary>Creates a new instance of the strategy named <paramref name="name"/>.</summary>
    /// <param name="name">One of <see cref="All"/>.</param>
    /// <exception cref="ArgumentException">The name is not one of <see cref="All"/>; the message lists the valid names.</exception>
    public static ILoadBalancingStrategy Create(string name) => name switch
    {
        LeastConnections => new LeastConnectionsStrategy(),
        WeightedLeastConnections => new WeightedLeastConnectionsStrategy(),
        RoundRobin => new RoundRobinStrategy(),
        WeightedRoundRobin => new WeightedRoundRobinStrategy(),
        Random => new RandomStrategy(),
        PowerOfTwoChoices => new PowerOfTwoChoicesStrategy(),
        SourceIpHash => new SourceIpHashStrategy(),
        Maglev => new MaglevStrategy(),
        _ => throw new ArgumentException(UnknownMessage("Strategy", name), nameof(name)),
    };

    /// <summary>"X 'name' is unknown; valid strategies are: ..." for validation messages.</summary>
    internal static string UnknownMessage(string field, string? name) =>
        $"{field} '{name}' is unknown; valid strategies are: {string.Join(", ", All)}.";
}
