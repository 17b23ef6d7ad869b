using System.Collections.Frozen;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// Picks a pool by server name: exact names first, then the longest wildcard suffix, else the default pool
/// (""). The fold routes each arriving connection through it, then lets the strategy pick within the pool.
/// </summary>
internal sealed class ServerNameRouter
{
    private readonly FrozenDictionary<string, string> _exact;
    private readonly (string Suffix, string Pool)[] _wildcards;

    private ServerNameRouter(FrozenDictionary<string, string> exact, (string Suffix, string Pool)[] wildcards)
    {
        _exact = exact;
        _wildcards = wildcards;
    }

    public static ServerNameRouter From(IReadOnlyList<SniRoute> routes)
    {
        var exact = routes.Where(route => !route.ServerName.StartsWith("*.", StringComparison.Ordinal))
            .ToFrozenDictionary(route => route.ServerName, route => route.Pool, StringComparer.OrdinalIgnoreCase);
        var wildcards = routes.Where(route => route.ServerName.StartsWith("*.", StringComparison.Ordinal))
            .Select(route => (Suffix: route.ServerName[1..], route.Pool))
            .OrderByDescending(route => route.Suffix.Length)
            .ToArray();
        return new ServerNameRouter(exact, wildcards);
    }

    /// <summary>The pool for <paramref name="serverName"/>: a route's, or "" (the default pool).</summary>
    public string Route(string? serverName)
    {
        if (string.IsNullOrEmpty(serverName))
        {
            return string.Empty;
        }

        if (_exact.TryGetValue(serverName, out var pool))
        {
            return pool;
        }

        foreach (var (suffix, wildcardPool) in _wildcards)
        {
            if (serverName.Length > suffix.Length && serverName.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                return wildcardPool;
            }
        }

        return string.Empty;
    }

    /// <summary>Whether <paramref name="backend"/> may serve a connection routed to <paramref name="pool"/> (null: anything goes).</summary>
    public static bool InPool(BackendSnapshot backend, string? pool) =>
        pool is null || string.Equals(backend.Pool ?? string.Empty, pool, StringComparison.OrdinalIgnoreCase);

    /// <summary>The backends as a strategy sees them for a connection routed to <paramref name="pool"/>: the others excluded.</summary>
    public static BackendList Restrict(BackendList backends, string? pool) =>
        pool is null ? backends : BackendList.From(backends.Select(backend => InPool(backend, pool) ? backend : backend with { Excluded = true }));
}
