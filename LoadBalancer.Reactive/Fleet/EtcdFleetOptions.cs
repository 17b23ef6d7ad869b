namespace LoadBalancer.Reactive.Fleet;

/// <summary>How a balancer joins a fleet coordinated through etcd (see <see cref="EtcdFleet.JoinAsync"/>).</summary>
public sealed record EtcdFleetOptions
{
    /// <summary>The etcd cluster's client URLs, e.g. <c>http://127.0.0.1:2379</c>; tried in turn when one fails.</summary>
    public required IReadOnlyList<string> Endpoints { get; init; }

    /// <summary>
    /// The fleet's key prefix. Backends are the keys under <c>PREFIX/backends/</c>, live instances the keys under
    /// <c>PREFIX/instances/</c>. Default: <c>/loadbalancer</c>.
    /// </summary>
    public string Prefix { get; init; } = "/loadbalancer";

    /// <summary>
    /// This instance's name in the fleet (letters, digits, '.', '_' or '-'). Default: null, the machine's name and the
    /// process id.
    /// </summary>
    public string? Name { get; init; }

    /// <summary>
    /// How long the instance's registration outlives its last keep-alive: a crashed instance leaves the list of
    /// live instances this long after it stopped. Keep-alives (and the stats summary) go every third of it.
    /// Whole seconds, at least 2 (etcd's shortest lease). Default: 10 seconds.
    /// </summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Splits <c>URL[,URL...]</c> (a command line's <c>--etcd</c>) into endpoints.</summary>
    /// <param name="urls">Comma-separated URLs.</param>
    /// <returns>The URLs, trimmed, empty ones left out.</returns>
    public static IReadOnlyList<string> ParseEndpoints(string urls) =>
        [.. (urls ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}
