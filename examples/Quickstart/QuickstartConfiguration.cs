using System.Collections;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Fleet;
using LoadBalancer.Reactive.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Primitives;

namespace Quickstart;

/// <summary>What one read of the configuration gave: the balancer's options and the Quickstart's own settings, or every problem.</summary>
/// <param name="Options">The balancer's options; null when there are problems.</param>
/// <param name="DrainTimeout">How long open connections may finish on Ctrl+C / SIGTERM.</param>
/// <param name="Errors">Every problem, each naming its key.</param>
internal sealed record QuickstartReading(LoadBalancerOptions? Options, TimeSpan DrainTimeout, IReadOnlyList<string> Errors)
{
    /// <summary>Where the runtime API listens (<c>Admin:Endpoint</c>: a Unix socket path or a loopback HOST:PORT); null for off.</summary>
    public string? AdminEndpoint { get; init; }

    /// <summary>The token runtime API clients must give (<c>Admin:Token</c>); required for a non-loopback endpoint.</summary>
    public string? AdminToken { get; init; }

    /// <summary>The fleet this instance joins (<c>Etcd:Endpoints</c>, <c>Etcd:Prefix</c>, and <c>Name</c> as its name); null for none.</summary>
    public EtcdFleetOptions? Fleet { get; init; }
}

/// <summary>
/// The Quickstart's one configuration, in the library's schema: defaults, then the <c>--config</c> JSON file,
/// then <c>LB_</c>-prefixed environment variables, then the flags, each winning over the one before, read
/// by <see cref="LoadBalancerConfiguration.Read(IConfiguration, IReadOnlyCollection{string})"/>.
/// </summary>
internal sealed class QuickstartConfiguration
{
    /// <summary>The prefix of environment variables that are settings: <c>LB_Backends__0__Address</c>.</summary>
    public const string EnvironmentPrefix = "LB_";

    /// <summary>Top-level keys the Quickstart reads itself, beside the balancer's.</summary>
    public static readonly IReadOnlyCollection<string> HostKeys = ["DrainTimeout", "Admin", "Etcd"];

    private static readonly string[] s_adminKeys = ["Endpoint", "Token"];

    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(5);

    private readonly FlagsProvider _flags;
    private readonly HashSet<string> _replaced;

    private QuickstartConfiguration(IConfigurationRoot root, FlagsProvider flags, HashSet<string> replaced)
    {
        Root = root;
        _flags = flags;
        _replaced = replaced;
    }

    /// <summary>The layered configuration; <c>Root.Reload()</c> re-reads the file and the environment.</summary>
    public IConfigurationRoot Root { get; }

    /// <summary>Whether any layer lists a backend, apart from the pools of --sni.</summary>
    public bool HasBackends => Root.GetSection("Backends").GetChildren()
        .Any(backend => !backend.Key.StartsWith(QuickstartArguments.SniBackendPrefix, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Layers the configuration. A file that cannot be read or parsed throws (<see cref="IOException"/> or
    /// <see cref="InvalidDataException"/>) with a message naming it.
    /// </summary>
    /// <param name="settings">The flags.</param>
    /// <param name="environment">The environment variables; null reads the process's own.</param>
    public static QuickstartConfiguration Build(QuickstartSettings settings, IDictionary? environment = null)
    {
        var replaced = new HashSet<string>(settings.ReplacedLists, StringComparer.OrdinalIgnoreCase);
        var flags = new FlagsProvider(settings.Flags, settings.SendProxy);
        var builder = new ConfigurationBuilder();
        builder.Add(new Masked(new MemorySource(new Dictionary<string, string?> { ["Listen:0"] = QuickstartArguments.DefaultListen }), replaced));
        if (settings.ConfigPath is { } path)
        {
            var full = Path.GetFullPath(path);
            // Reloads come from the Quickstart's own watcher and SIGHUP through Root.Reload(), so a broken file
            // throws where it is reported, rather than emptying the configuration on a background thread.
            builder.Add(new Masked(new JsonConfigurationSource
            {
                Path = Path.GetFileName(full),
                FileProvider = new PhysicalFileProvider(Path.GetDirectoryName(full)!),
                Optional = false,
                ReloadOnChange = false,
            }, replaced));
        }

        builder.Add(new Masked(
            environment is null ? new EnvironmentVariablesConfigurationSource { Prefix = EnvironmentPrefix } : new MemorySource(FromEnvironment(environment)),
            replaced));
        builder.Add(new FlagsSource(flags));
        return new QuickstartConfiguration(builder.Build(), flags, replaced);
    }

    /// <summary>Balances over these backends, as --backend flags would (the demo backends).</summary>
    public void UseBackends(IReadOnlyList<string> addresses) => UseBackends([.. addresses.Select(address => new BackendOptions(address))]);

    /// <summary>Balances over these backends with their weights, states and pools (a fleet's, read from etcd).</summary>
    public void UseBackends(IReadOnlyList<BackendOptions> backends)
    {
        _replaced.Add("Backends");
        for (var i = 0; i < backends.Count; i++)
        {
            _flags.Set($"Backends:{i}:Address", backends[i].Address);
            _flags.Set($"Backends:{i}:Weight", backends[i].Weight.ToString(System.Globalization.CultureInfo.InvariantCulture));
            _flags.Set($"Backends:{i}:State", backends[i].State.ToString());
            if (backends[i].Pool is { } pool)
            {
                _flags.Set($"Backends:{i}:Pool", pool);
            }
        }
    }

    /// <summary>Reads the options and the Quickstart's settings from the configuration as it is now.</summary>
    public QuickstartReading Read()
    {
        var errors = new List<string>();
        var drain = s_drainTimeout;
        if (Root["DrainTimeout"] is { } text && !Durations.TryParse(text, out drain, out var problem))
        {
            errors.Add($"DrainTimeout {problem}.");
        }

        LoadBalancerOptions? options = null;
        try
        {
            options = LoadBalancerConfiguration.Read(Root, HostKeys);
        }
        catch (LoadBalancerOptionsException exception)
        {
            errors.AddRange(exception.Errors);
        }

        var admin = Root.GetSection("Admin");
        errors.AddRange(admin.GetChildren()
            .Where(child => !s_adminKeys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            .Select(child => $"Admin:{child.Key} is not a setting; the runtime API's settings are {string.Join(", ", s_adminKeys)}."));
        if (admin["Token"] is { } token && admin["Endpoint"] is null)
        {
            errors.Add("Admin:Token is set but Admin:Endpoint is not; the runtime API is off without an endpoint.");
        }

        var fleet = Fleet(errors);
        return errors.Count > 0
            ? new QuickstartReading(null, drain, errors)
            : new QuickstartReading(options, drain, []) { AdminEndpoint = NullIfEmpty(admin["Endpoint"]), AdminToken = NullIfEmpty(admin["Token"]), Fleet = fleet };
    }

    /// <summary>Whether the configuration joins a fleet through etcd (<c>Etcd:Endpoints</c> is set).</summary>
    public bool JoinsFleet => Root.GetSection("Etcd:Endpoints").Exists();

    /// <summary>The fleet's settings alone (read before the backends are known, which may come from the fleet); null for none.</summary>
    public EtcdFleetOptions? ReadFleet(List<string> errors) => Fleet(errors);

    // The fleet's settings, read by the library's reader; the instance's name is the balancer's Name when set.
    private EtcdFleetOptions? Fleet(List<string> errors)
    {
        var etcd = Root.GetSection("Etcd");
        if (!etcd.GetChildren().Any())
        {
            return null;
        }

        try
        {
            var name = Root["Name"] is { Length: > 0 } named && named != new LoadBalancerOptions().Name ? named : null;
            return LoadBalancerConfiguration.ReadFleet(etcd, name);
        }
        catch (LoadBalancerOptionsException exception)
        {
            errors.AddRange(exception.Errors);
            return null;
        }
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    /// <summary>What went wrong reading the file: the messages of the exception and of those it wraps (the JSON parser says where).</summary>
    public static string Describe(Exception exception)
    {
        var messages = new List<string>();
        for (var current = exception; current is not null; current = current.InnerException)
        {
            messages.Add(current.Message);
        }

        return string.Join(" ", messages.Distinct());
    }

    /// <summary>Every key and value, in order: two equal snapshots are the same configuration.</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> Snapshot() =>
        [.. Root.AsEnumerable().Where(pair => pair.Value is not null).OrderBy(pair => pair.Key, StringComparer.OrdinalIgnoreCase)];

    // LB_HealthCheck__Interval -> HealthCheck:Interval, as the environment variables provider maps them.
    private static Dictionary<string, string?> FromEnvironment(IDictionary environment)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in environment)
        {
            var name = (string)entry.Key;
            if (name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            {
                values[name[EnvironmentPrefix.Length..].Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal)] = (string?)entry.Value;
            }
        }

        return values;
    }

    private sealed class MemorySource(IDictionary<string, string?> values) : IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => new MemoryProvider(values);
    }

    private sealed class MemoryProvider : ConfigurationProvider
    {
        public MemoryProvider(IDictionary<string, string?> values)
        {
            foreach (var (key, value) in values)
            {
                Data[key] = value;
            }
        }
    }

    private sealed class FlagsSource(FlagsProvider provider) : IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => provider;
    }

    /// <summary>The flags: fixed keys, and --send-proxy as the <c>SendProxy</c> of every backend, whichever layer lists it.</summary>
    private sealed class FlagsProvider : ConfigurationProvider
    {
        private readonly string? _sendProxy;

        public FlagsProvider(IReadOnlyDictionary<string, string?> flags, string? sendProxy)
        {
            _sendProxy = sendProxy;
            foreach (var (key, value) in flags)
            {
                Data[key] = value;
            }
        }

        public override bool TryGet(string key, out string? value)
        {
            if (base.TryGet(key, out value))
            {
                return true;
            }

            value = _sendProxy;
            return _sendProxy is not null && IsBackendKey(key, 3) && key.EndsWith(":SendProxy", StringComparison.OrdinalIgnoreCase);
        }

        public override IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath)
        {
            var keys = base.GetChildKeys(earlierKeys, parentPath);
            return _sendProxy is not null && parentPath is not null && IsBackendKey(parentPath, 2) ? keys.Append("SendProxy") : keys;
        }

        private static bool IsBackendKey(string key, int segments) =>
            key.StartsWith("Backends:", StringComparison.OrdinalIgnoreCase) && key.Split(':').Length == segments;
    }

    private sealed class Masked(IConfigurationSource inner, HashSet<string> hidden) : IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => new MaskedProvider(inner.Build(builder), hidden);
    }

    /// <summary>A lower layer with the lists the flags replace hidden, so three backends in a file and one --backend make one.</summary>
    private sealed class MaskedProvider(IConfigurationProvider inner, HashSet<string> hidden) : IConfigurationProvider
    {
        public bool TryGet(string key, out string? value)
        {
            value = null;
            return !IsHidden(key) && inner.TryGet(key, out value);
        }

        public void Set(string key, string? value) => inner.Set(key, value);

        public IChangeToken GetReloadToken() => inner.GetReloadToken();

        public void Load() => inner.Load();

        public IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath)
        {
            var own = inner.GetChildKeys([], parentPath)
                .Where(key => !IsHidden(parentPath is null ? key : ConfigurationPath.Combine(parentPath, key)));
            return earlierKeys.Concat(own).OrderBy(key => key, ConfigurationKeyComparer.Instance);
        }

        private bool IsHidden(string key) =>
            hidden.Any(list => key.Equals(list, StringComparison.OrdinalIgnoreCase) || key.StartsWith(list + ":", StringComparison.OrdinalIgnoreCase));
    }
}
