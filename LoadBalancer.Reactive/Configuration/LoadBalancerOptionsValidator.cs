using System.Net;
using LoadBalancer.Reactive.Balancing;

namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// Checks <see cref="LoadBalancerOptions"/> as a whole and collects every problem, each naming the
/// field or backend at fault, so a user fixes a configuration in one pass.
/// </summary>
internal static class LoadBalancerOptionsValidator
{
    /// <summary>The largest backend weight accepted.</summary>
    public const int MaxWeight = 10_000;

    /// <summary>Returns every problem with <paramref name="options"/>; an empty list means they are valid.</summary>
    /// <param name="options">The options to check.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    public static IReadOnlyList<string> Validate(LoadBalancerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        ValidateListen(options.Listen, errors);
        ValidateBackends(options.Backends, errors);

        if (options.CustomStrategy is null && !LoadBalancingStrategies.All.Contains(options.Strategy ?? string.Empty))
        {
            errors.Add(LoadBalancingStrategies.UnknownMessage("Strategy", options.Strategy));
        }

        if (options.ConnectTimeout <= TimeSpan.Zero)
        {
            errors.Add($"ConnectTimeout must be positive, but is {options.ConnectTimeout}.");
        }

        if (options.EventBufferCapacity <= 0)
        {
            errors.Add($"EventBufferCapacity must be positive, but is {options.EventBufferCapacity}.");
        }

        return errors;
    }

    /// <summary>Throws a <see cref="LoadBalancerOptionsException"/> listing every problem, if there is any.</summary>
    /// <param name="options">The options to check.</param>
    /// <exception cref="LoadBalancerOptionsException">The options are invalid.</exception>
    public static void ThrowIfInvalid(LoadBalancerOptions options)
    {
        var errors = Validate(options);
        if (errors.Count > 0)
        {
            throw new LoadBalancerOptionsException(errors);
        }
    }

    /// <summary>The checks <see cref="BalancingFold"/> needs: the backends, and the strategy name when one is given.</summary>
    public static IReadOnlyList<string> ValidateBackendsAndStrategy(IReadOnlyList<BackendOptions> backends, string? strategyName)
    {
        var errors = new List<string>();
        ValidateBackends(backends, errors);
        if (strategyName is not null && !LoadBalancingStrategies.All.Contains(strategyName))
        {
            errors.Add(LoadBalancingStrategies.UnknownMessage("Strategy", strategyName));
        }

        return errors;
    }

    private static void ValidateListen(IReadOnlyList<string>? listen, List<string> errors)
    {
        if (listen is null || listen.Count == 0)
        {
            errors.Add("Listen must name at least one endpoint, like 127.0.0.1:8000.");
            return;
        }

        var seen = new HashSet<EndPoint>();
        for (var i = 0; i < listen.Count; i++)
        {
            if (!EndPointParser.TryParse(listen[i], allowPortZero: true, out var endPoint, out var error))
            {
                errors.Add($"Listen[{i}] {error}.");
            }
            else if (endPoint is DnsEndPoint dns && !string.Equals(dns.Host, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"Listen[{i}] '{listen[i]}' must be an IP address, '*' or 'localhost', not a host name.");
            }
            else if (endPoint is IPEndPoint { Port: not 0 } && !seen.Add(endPoint))
            {
                errors.Add($"Listen[{i}] '{listen[i]}' is listed more than once.");
            }
        }
    }

    private static void ValidateBackends(IReadOnlyList<BackendOptions?>? backends, List<string> errors)
    {
        if (backends is null || backends.Count == 0)
        {
            errors.Add("Backends must list at least one backend.");
            return;
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < backends.Count; i++)
        {
            var backend = backends[i];
            if (backend is null)
            {
                errors.Add($"Backends[{i}] is null.");
                continue;
            }

            if (!EndPointParser.TryParse(backend.Address, allowPortZero: false, out var endPoint, out var error))
            {
                errors.Add($"Backends[{i}].Address {error}.");
            }
            else if (!seen.Add(EndPointParser.Format(endPoint)))
            {
                errors.Add($"Backends[{i}] '{backend.Address}' is listed more than once.");
            }

            if (backend.Weight is < 0 or > MaxWeight)
            {
                errors.Add($"Backends[{i}] '{backend.Address}' has weight {backend.Weight}, outside 0-{MaxWeight}.");
            }
        }
    }
}
