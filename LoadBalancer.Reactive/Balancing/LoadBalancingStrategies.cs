namespace LoadBalancer.Reactive.Balancing;

/// <summary>The names of the built-in strategies, as written in options and on the command line.</summary>
public static class LoadBalancingStrategies
{
    /// <summary>The backend with the fewest active connections; ties take turns. The default.</summary>
    public const string LeastConnections = "least-connections";

    /// <summary>Every valid strategy name.</summary>
    public static IReadOnlyList<string> All { get; } = [LeastConnections];

    /// <summary>Creates the strategy named <paramref name="name"/>; the name was validated with the options.</summary>
    internal static ILoadBalancingStrategy Create(string name) => name switch
    {
        LeastConnections => new LeastConnectionsStrategy(),
        _ => throw new ArgumentException(
            $"Strategy '{name}' is unknown; valid strategies are: {string.Join(", ", All)}.", nameof(name)),
    };
}
