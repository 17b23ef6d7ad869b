using System.Net;
using LoadBalancer.Reactive.Balancing.Strategies;

namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// Checks <see cref="LoadBalancerOptions"/> as a whole and collects every problem, each naming the
/// field or backend at fault, so a user fixes a configuration in one pass. A balancer runs the same
/// checks when it is created; call this to check a configuration before applying it.
/// </summary>
public static class LoadBalancerOptionsValidator
{
    /// <summary>The largest backend weight accepted.</summary>
    internal const int MaxWeight = 10_000;

    /// <summary>
    /// Returns every problem with <paramref name="options"/> that can be found without reading a file; an empty
    /// list means they are valid. Certificate and trust files are read once, when a balancer is created, which
    /// reports any that cannot be loaded the same way, naming the setting and the file.
    /// </summary>
    /// <param name="options">The options to check.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    public static IReadOnlyList<string> Validate(LoadBalancerOptions options) => ValidateShape(options);

    /// <summary>
    /// Every problem found without touching a file (shapes, ranges, names, references between settings);
    /// <paramref name="requireListen"/> is false for a fold run without sockets.
    /// </summary>
    internal static IReadOnlyList<string> ValidateShape(LoadBalancerOptions options, bool requireListen = true)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (requireListen)
        {
            ValidateListen(options.Listen, errors);
        }

        ValidateBackends(options.Backends, errors);

        if (string.IsNullOrEmpty(options.Name) || !options.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            errors.Add($"Name '{options.Name}' must be letters, digits, '.', '_' or '-', and not empty.");
        }

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

        if (options.MaxConnectAttempts < 1)
        {
            errors.Add($"MaxConnectAttempts must be at least 1, but is {options.MaxConnectAttempts}.");
        }

        if (options.MaxConnections < 0)
        {
            errors.Add($"MaxConnections must be zero (no limit) or positive, but is {options.MaxConnections}.");
        }

        if (options.FirstByteTimeout < TimeSpan.Zero)
        {
            errors.Add($"FirstByteTimeout must be zero (off) or positive, but is {options.FirstByteTimeout}.");
        }

        ValidateClients(options.Clients, options.Listen ?? [], errors);
        ValidateAcceptProxy(options.AcceptProxy, errors);
        ValidateSni(options.Sni, options.Backends, errors);
        ValidateTls(options.Tls, errors);

        if (options.MaxQueueLength < 0)
        {
            errors.Add($"MaxQueueLength must be zero (no queue) or positive, but is {options.MaxQueueLength}.");
        }

        if (options.DnsRefreshInterval < TimeSpan.Zero)
        {
            errors.Add($"DnsRefreshInterval must be zero (off) or positive, but is {options.DnsRefreshInterval}.");
        }

        if (options.SlowStart < TimeSpan.Zero)
        {
            errors.Add($"SlowStart must be zero (off) or positive, but is {options.SlowStart}.");
        }

        if (options.QueueTimeout <= TimeSpan.Zero)
        {
            errors.Add($"QueueTimeout must be positive, but is {options.QueueTimeout}.");
        }

        if (options.IdleTimeout < TimeSpan.Zero)
        {
            errors.Add($"IdleTimeout must be zero (never) or positive, but is {options.IdleTimeout}.");
        }

        ValidateHealthCheck(options.HealthCheck, "HealthCheck", errors);
        ValidateOutlierDetection(options.OutlierDetection, errors);

        return errors;
    }

    /// <summary>Throws a <see cref="LoadBalancerOptionsException"/> listing every problem, if there is any.</summary>
    /// <param name="options">The options to check.</param>
    /// <param name="requireListen">False for a fold run without sockets, which needs no listen endpoint.</param>
    /// <exception cref="LoadBalancerOptionsException">The options are invalid.</exception>
    internal static void ThrowIfInvalid(LoadBalancerOptions options, bool requireListen = true)
    {
        var errors = ValidateShape(options, requireListen);
        if (errors.Count > 0)
        {
            throw new LoadBalancerOptionsException(errors);
        }
    }

    private static void ValidateHealthCheck(HealthCheckOptions? check, string field, List<string> errors)
    {
        if (check is null)
        {
            errors.Add($"{field} must not be null.");
            return;
        }

        if (check.Interval <= TimeSpan.Zero)
        {
            errors.Add($"{field}.Interval must be positive, but is {check.Interval}.");
        }

        if (check.Timeout <= TimeSpan.Zero)
        {
            errors.Add($"{field}.Timeout must be positive, but is {check.Timeout}.");
        }

        if (check.Rise < 1)
        {
            errors.Add($"{field}.Rise must be at least 1, but is {check.Rise}.");
        }

        if (check.Fall < 1)
        {
            errors.Add($"{field}.Fall must be at least 1, but is {check.Fall}.");
        }

        if (check.Expect is "")
        {
            errors.Add($"{field}.Expect must not be empty; leave it null to accept any reply.");
        }
    }

    private static void ValidateOutlierDetection(OutlierDetectionOptions? outliers, List<string> errors)
    {
        if (outliers is null)
        {
            errors.Add("OutlierDetection must not be null.");
            return;
        }

        if (outliers.ConsecutiveFailures < 1)
        {
            errors.Add($"OutlierDetection.ConsecutiveFailures must be at least 1, but is {outliers.ConsecutiveFailures}.");
        }

        if (outliers.BaseEjectionTime <= TimeSpan.Zero)
        {
            errors.Add($"OutlierDetection.BaseEjectionTime must be positive, but is {outliers.BaseEjectionTime}.");
        }

        if (outliers.MaxEjectionTime < outliers.BaseEjectionTime)
        {
            errors.Add($"OutlierDetection.MaxEjectionTime ({outliers.MaxEjectionTime}) must be at least BaseEjectionTime ({outliers.BaseEjectionTime}).");
        }

        if (outliers.MaxEjectionPercent is < 0 or > 100)
        {
            errors.Add($"OutlierDetection.MaxEjectionPercent must be 0-100, but is {outliers.MaxEjectionPercent}.");
        }
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

    /// <summary>Checks backends added at run time; <paramref name="field"/> names them in messages.</summary>
    internal static IReadOnlyList<string> ValidateBackends(IReadOnlyList<BackendOptions?> backends, string field)
    {
        var errors = new List<string>();
        ValidateBackends(backends, errors, field, requireOne: false);
        return errors;
    }

    private static void ValidateBackends(IReadOnlyList<BackendOptions?>? backends, List<string> errors, string field = "Backends", bool requireOne = true)
    {
        if (backends is null || (requireOne && backends.Count == 0))
        {
            errors.Add($"{field} must list at least one backend.");
            return;
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < backends.Count; i++)
        {
            var backend = backends[i];
            if (backend is null)
            {
                errors.Add($"{field}[{i}] is null.");
                continue;
            }

            if (!EndPointParser.TryParse(backend.Address, allowPortZero: false, out var endPoint, out var error))
            {
                errors.Add($"{field}[{i}].Address {error}.");
            }
            else if (!seen.Add(EndPointParser.Format(endPoint)))
            {
                errors.Add($"{field}[{i}] '{backend.Address}' is listed more than once.");
            }

            if (backend.Weight is < 0 or > MaxWeight)
            {
                errors.Add($"{field}[{i}] '{backend.Address}' has weight {backend.Weight}, outside 0-{MaxWeight}.");
            }

            if (backend.MaxConnections < 0)
            {
                errors.Add($"{field}[{i}] '{backend.Address}' has MaxConnections {backend.MaxConnections}; it must be zero (no limit) or positive.");
            }

            if (backend.Tls?.ServerName is { } serverName && !IsHostName(serverName))
            {
                errors.Add($"{field}[{i}].Tls.ServerName '{serverName}' is not a host name.");
            }

            if (!Enum.IsDefined(backend.SendProxy))
            {
                errors.Add($"{field}[{i}] '{backend.Address}' has SendProxy {(int)backend.SendProxy}; it must be None, V1 or V2.");
            }

            if (!Enum.IsDefined(backend.State))
            {
                errors.Add($"{field}[{i}] '{backend.Address}' has State {(int)backend.State}; it must be Active, Draining or Disabled.");
            }

            if (backend.HealthCheck is { } healthCheck)
            {
                ValidateHealthCheck(healthCheck, $"{field}[{i}].HealthCheck", errors);
            }
        }
    }

    private static void ValidateClients(ClientOptions? clients, IReadOnlyList<string> listen, List<string> errors)
    {
        if (clients is null)
        {
            errors.Add("Clients must be set (new ClientOptions() allows everyone, without limits).");
            return;
        }

        ValidateNetworks(clients.Allow, clients.Deny, "Clients", errors);
        var named = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < (clients.Listeners?.Count ?? 0); i++)
        {
            var field = $"Clients.Listeners[{i}]";
            if (clients.Listeners![i] is not { } listener)
            {
                errors.Add($"{field} must be set.");
                continue;
            }

            // Without listeners (a fold run in virtual time) there is nothing to name yet.
            if (listen.Count > 0 && !listen.Contains(listener.Listen, StringComparer.Ordinal))
            {
                errors.Add($"{field}.Listen '{listener.Listen}' is not one of Listen ({string.Join(", ", listen)}); name the listener exactly as it is written there.");
            }
            else if (listen.Count(address => address == listener.Listen) > 1)
            {
                errors.Add($"{field}.Listen '{listener.Listen}' is written for more than one listener in Listen, so its rules cannot tell them apart.");
            }
            else if (!named.Add(listener.Listen))
            {
                errors.Add($"{field}.Listen '{listener.Listen}' has rules already; give each listener one entry.");
            }

            ValidateNetworks(listener.Allow, listener.Deny, field, errors);
        }

        if (clients.MaxConnections < 0)
        {
            errors.Add($"Clients.MaxConnections must be zero (no limit) or positive, but is {clients.MaxConnections}.");
        }

        if (clients.MaxConnectionRate < 0)
        {
            errors.Add($"Clients.MaxConnectionRate must be zero (no limit) or positive, but is {clients.MaxConnectionRate}.");
        }

        if (clients.ConnectionRateInterval <= TimeSpan.Zero)
        {
            errors.Add($"Clients.ConnectionRateInterval must be positive, but is {clients.ConnectionRateInterval}.");
        }
    }

    private static void ValidateNetworks(IReadOnlyList<string>? allow, IReadOnlyList<string>? deny, string field, List<string> errors)
    {
        foreach (var (networks, name) in new[] { (allow, "Allow"), (deny, "Deny") })
        {
            for (var i = 0; i < (networks?.Count ?? 0); i++)
            {
                if (!NetworkParser.TryParse(networks![i], $"{field}.{name}[{i}]", out _, out var error))
                {
                    errors.Add(error);
                }
            }
        }
    }

    private static void ValidateAcceptProxy(AcceptProxyOptions? acceptProxy, List<string> errors)
    {
        if (acceptProxy is null)
        {
            errors.Add("AcceptProxy must be set (new AcceptProxyOptions() expects no PROXY headers).");
            return;
        }

        for (var i = 0; i < (acceptProxy.From?.Count ?? 0); i++)
        {
            if (!NetworkParser.TryParse(acceptProxy.From![i], $"AcceptProxy.From[{i}]", out _, out var error))
            {
                errors.Add(error);
            }
        }

        if (acceptProxy.HeaderTimeout <= TimeSpan.Zero)
        {
            errors.Add($"AcceptProxy.HeaderTimeout must be positive, but is {acceptProxy.HeaderTimeout}.");
        }
    }

    private static void ValidateSni(SniRoutingOptions? sni, IReadOnlyList<BackendOptions>? backends, List<string> errors)
    {
        if (sni is null)
        {
            errors.Add("Sni must be set (new SniRoutingOptions() routes nothing).");
            return;
        }

        var pools = (backends ?? []).Where(backend => backend?.Pool is { Length: > 0 }).Select(backend => backend.Pool!)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < (sni.Routes?.Count ?? 0); i++)
        {
            var route = sni.Routes![i];
            if (route is null)
            {
                errors.Add($"Sni.Routes[{i}] is null.");
                continue;
            }

            var name = route.ServerName ?? string.Empty;
            var host = name.StartsWith("*.", StringComparison.Ordinal) ? name[2..] : name;
            if (!IsHostName(host))
            {
                errors.Add($"Sni.Routes[{i}] server name '{name}' is not a host name or a wildcard like *.example.com.");
            }
            else if (!seen.Add(name))
            {
                errors.Add($"Sni.Routes[{i}] server name '{name}' is routed more than once.");
            }

            if (string.IsNullOrWhiteSpace(route.Pool))
            {
                errors.Add($"Sni.Routes[{i}] ('{name}') names no pool.");
            }
            else if (!pools.Contains(route.Pool))
            {
                errors.Add($"Sni.Routes[{i}] ('{name}') goes to pool '{route.Pool}', but no backend is in it.");
            }
        }

        if (sni.HelloTimeout <= TimeSpan.Zero)
        {
            errors.Add($"Sni.HelloTimeout must be positive, but is {sni.HelloTimeout}.");
        }
    }

    // Letters, digits and hyphens in dot-separated labels of 1-63 characters, at most 253 in all.
    internal static bool IsHostName(string name) =>
        name.Length is > 0 and <= 253
        && name.Split('.').All(label => label.Length is > 0 and <= 63 && label[0] != '-' && label[^1] != '-'
            && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'));

    private static void ValidateTls(TlsOptions? tls, List<string> errors)
    {
        if (tls is null)
        {
            errors.Add("Tls must be set (new TlsOptions() terminates no TLS).");
            return;
        }

        if (tls.Certificate is null && tls.CertificatePath is null && tls.KeyPath is not null)
        {
            errors.Add($"Tls.KeyPath '{tls.KeyPath}' is given without Tls.CertificatePath.");
        }

        if (tls.HandshakeTimeout <= TimeSpan.Zero)
        {
            errors.Add($"Tls.HandshakeTimeout must be positive, but is {tls.HandshakeTimeout}.");
        }
    }
}
