namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// TLS passthrough with routing by server name: the balancer reads (without terminating TLS) the server
/// name a client asks for in its ClientHello, picks a pool of backends by it, and lets the strategy pick
/// within that pool. The bytes read are relayed to the backend untouched, so TLS stays end to end.
/// </summary>
public sealed record SniRoutingOptions
{
    /// <summary>
    /// Server names and the pool each goes to (<see cref="BackendOptions.Pool"/>). A name is exact
    /// (<c>api.example.com</c>) or a wildcard (<c>*.example.com</c>: any name under it, not itself); an exact
    /// name wins over a wildcard, and a longer wildcard over a shorter. A connection whose name matches no
    /// route, or that names none, goes to the default pool (backends without a pool). Empty (the default):
    /// ClientHellos are not read and every backend serves every connection.
    /// </summary>
    public IReadOnlyList<SniRoute> Routes { get; init; } = [];

    /// <summary>How long a client may take to send its whole ClientHello. Default: 5 seconds.</summary>
    public TimeSpan HelloTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>One route: connections asking for <paramref name="ServerName"/> go to the backends in <paramref name="Pool"/>.</summary>
/// <param name="ServerName">An exact server name, or <c>*.</c> and a domain for every name under it.</param>
/// <param name="Pool">The pool, as named by <see cref="BackendOptions.Pool"/>.</param>
public sealed record SniRoute(string ServerName, string Pool);
