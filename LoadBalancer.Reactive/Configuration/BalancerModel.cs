using System.Collections.Immutable;
using System.Net;
using System.Net.Security;
using LoadBalancer.Reactive.Tls;

namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// What a balancer runs on, built once from its options: validated (purely, without touching files), then
/// certificates and trust stores loaded, addresses parsed and networks read. Nothing later parses or loads
/// again; a malformed or unloadable setting fails here, with every problem named.
/// </summary>
internal sealed class BalancerModel
{
    private BalancerModel(
        LoadBalancerOptions options, TlsTermination? termination, ImmutableArray<IPNetwork> trustedProxies, ImmutableArray<BackendDefinition> backends)
    {
        Options = options;
        Termination = termination;
        TrustedProxies = trustedProxies;
        Backends = backends;
    }

    public LoadBalancerOptions Options { get; }

    /// <summary>TLS termination for clients, with its certificate loaded; null when off.</summary>
    public TlsTermination? Termination { get; }

    /// <summary>Networks whose connections start with a PROXY header.</summary>
    public ImmutableArray<IPNetwork> TrustedProxies { get; }

    /// <summary>The configured backends, in order.</summary>
    public ImmutableArray<BackendDefinition> Backends { get; }

    /// <summary>Builds the model, or throws a <see cref="LoadBalancerOptionsException"/> listing every problem.</summary>
    public static BalancerModel Build(LoadBalancerOptions options, bool requireListen = true)
    {
        var (model, errors) = TryBuild(options, requireListen);
        return model ?? throw new LoadBalancerOptionsException(errors);
    }

    /// <summary>The model, or null with every problem: the pure checks first, then what loading files finds.</summary>
    public static (BalancerModel? Model, IReadOnlyList<string> Errors) TryBuild(LoadBalancerOptions options, bool requireListen = true)
    {
        var errors = LoadBalancerOptionsValidator.ValidateShape(options, requireListen);
        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var loading = new List<string>();
        var termination = options.Tls.Enabled ? TlsTermination.Create(options.Tls, loading) : null;
        var backends = options.Backends.Select((backend, i) => Define(backend, options.HealthCheck, $"Backends[{i}]", loading)).ToImmutableArray();
        if (loading.Count > 0)
        {
            return (null, loading);
        }

        var trusted = options.AcceptProxy.From.Select(network => NetworkParser.TryParse(network, "AcceptProxy.From", out var parsed, out _) ? parsed : default);
        return (new BalancerModel(options, termination, [.. trusted], backends), []);
    }

    /// <summary>
    /// How to reach one (already validated) backend: its endpoint parsed, its TLS settings with certificates
    /// loaded. Problems loading files are added to <paramref name="errors"/>, named by <paramref name="field"/>.
    /// </summary>
    public static BackendDefinition Define(BackendOptions backend, HealthCheckOptions defaultHealthCheck, string field, List<string> errors)
    {
        EndPointParser.TryParse(backend.Address, allowPortZero: false, out var endPoint, out _);
        var tls = backend.Tls is { } options ? BackendTls.Settings(options, backend.Address, $"{field}.Tls", errors) : null;
        return new BackendDefinition(backend.Address, endPoint!, backend.SendProxy, tls, backend.HealthCheck ?? defaultHealthCheck);
    }
}

/// <summary>How to reach one backend, built once: the fold refers to it by <paramref name="Address"/>.</summary>
/// <param name="Address">The backend's address as configured; its id.</param>
/// <param name="EndPoint">Where connections to it go (a <see cref="DnsEndPoint"/> is resolved at each connect).</param>
/// <param name="SendProxy">The PROXY header it is sent before each connection's bytes, if any.</param>
/// <param name="Tls">The TLS handshake settings, certificates loaded; null for plain TCP.</param>
/// <param name="HealthCheck">Its active health check.</param>
internal sealed record BackendDefinition(
    string Address, EndPoint EndPoint, ProxyProtocolVersion SendProxy, SslClientAuthenticationOptions? Tls, HealthCheckOptions HealthCheck);

/// <summary>
/// The backend definitions of a running balancer, by address: the configured ones, and those added since.
/// Read on every connect, written only by the operator calls that add backends (copy on write).
/// </summary>
internal sealed class BackendCatalog(IEnumerable<BackendDefinition> backends)
{
    private ImmutableDictionary<string, BackendDefinition> _byAddress =
        backends.ToImmutableDictionary(backend => backend.Address, StringComparer.OrdinalIgnoreCase);

    /// <summary>The definition of the backend at <paramref name="address"/>; null if it was never defined.</summary>
    public BackendDefinition? Find(string address) => Volatile.Read(ref _byAddress).GetValueOrDefault(address);

    /// <summary>Adds (or replaces) a definition.</summary>
    public void Put(BackendDefinition backend) => ImmutableInterlocked.Update(ref _byAddress, (all, added) => all.SetItem(added.Address, added), backend);
}
