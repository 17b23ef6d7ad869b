using System.Globalization;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Fleet;
using Microsoft.Extensions.Configuration;

namespace LoadBalancer.Reactive.Hosting;

/// <summary>
/// Reads <see cref="LoadBalancerOptions"/> from configuration (appsettings.json, environment variables...),
/// with durations written like <c>"2s"</c> or <c>"500ms"</c> (a .NET <c>"00:00:02"</c> also works). Every
/// mistake is reported at once, naming its configuration path; a key that is not a setting is a mistake too,
/// at every level, so a misspelt name never silently falls back to a default.
/// </summary>
/// <example>
/// <code>
/// "LoadBalancer": {
///   "Listen": [ "0.0.0.0:5432" ],
///   "Backends": [ { "Address": "10.0.0.5:5432" }, { "Address": "10.0.0.6:5432", "Weight": 2 } ],
///   "HealthCheck": { "Interval": "2s", "Fall": 3 }
/// }
/// </code>
/// </example>
public static class LoadBalancerConfiguration
{
    /// <summary>Reads the options in <paramref name="section"/>, then validates them as a balancer would.</summary>
    /// <param name="section">The section holding the settings, such as <c>configuration.GetSection("LoadBalancer")</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="section"/> is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">A setting is malformed or the options are invalid; every problem is listed.</exception>
    public static LoadBalancerOptions Read(IConfiguration section) => Read(section, []);

    /// <summary>
    /// Reads the options in <paramref name="section"/>, where the host keeps settings of its own beside them,
    /// then validates them as a balancer would.
    /// </summary>
    /// <param name="section">The section holding the settings, such as <c>configuration.GetSection("LoadBalancer")</c>.</param>
    /// <param name="hostKeys">Top-level keys the host reads itself (such as <c>DrainTimeout</c>): skipped here, not reported as unknown.</param>
    /// <exception cref="ArgumentNullException"><paramref name="section"/> or <paramref name="hostKeys"/> is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">A setting is malformed, unknown or the options are invalid; every problem is listed.</exception>
    public static LoadBalancerOptions Read(IConfiguration section, IReadOnlyCollection<string> hostKeys)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(hostKeys);
        var reader = new Reader(section is IConfigurationSection named ? named.Path : string.Empty);
        reader.Known(section, "balancer", [.. s_settings, .. hostKeys]);
        var options = reader.Options(section);
        var errors = reader.Errors.Count > 0 ? reader.Errors : LoadBalancerOptionsValidator.Validate(options);
        return errors.Count > 0 ? throw new LoadBalancerOptionsException(errors) : options;
    }

    /// <summary>
    /// Reads how a balancer joins a fleet through etcd (see <see cref="EtcdFleet.JoinAsync"/>) from
    /// <paramref name="section"/>: <c>Endpoints</c> (<c>"URL,URL"</c> or a list), <c>Prefix</c>, <c>Name</c> and
    /// <c>LeaseTtl</c> (a duration such as <c>"10s"</c>).
    /// </summary>
    /// <example><c>"Etcd": { "Endpoints": "http://10.0.0.9:2379,http://10.0.0.10:2379", "Prefix": "/lb/db" }</c></example>
    /// <param name="section">The section holding the fleet's settings, such as <c>configuration.GetSection("Etcd")</c>.</param>
    /// <param name="name">This instance's name when the section does not give one (the balancer's <c>Name</c>, say); null for the default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="section"/> is null.</exception>
    /// <exception cref="LoadBalancerOptionsException">A setting is missing, malformed or unknown; every problem is listed.</exception>
    public static EtcdFleetOptions ReadFleet(IConfiguration section, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(section);
        var reader = new Reader(section is IConfigurationSection named ? named.Path : string.Empty);
        reader.Known(section, "fleet", s_fleetSettings);
        var endpoints = section.GetSection("Endpoints") is { Value: { } urls }
            ? EtcdFleetOptions.ParseEndpoints(urls)
            : [.. section.GetSection("Endpoints").GetChildren().Select(child => child.Value ?? string.Empty)];
        var defaults = new EtcdFleetOptions { Endpoints = endpoints };
        var options = defaults with
        {
            Prefix = section["Prefix"] ?? defaults.Prefix,
            Name = section["Name"] ?? name,
            LeaseTtl = reader.Duration(section, "LeaseTtl") ?? defaults.LeaseTtl,
        };
        if (endpoints.Count == 0)
        {
            reader.Errors.Add($"{reader.Path(section, "Endpoints")} must list at least one etcd URL, such as http://127.0.0.1:2379.");
        }
        else if (EtcdFleet.Problem(options) is { } problem)
        {
            reader.Errors.Add($"{(section is IConfigurationSection path ? path.Path + ": " : string.Empty)}{problem}");
        }

        return reader.Errors.Count > 0 ? throw new LoadBalancerOptionsException(reader.Errors) : options;
    }

    private static readonly string[] s_fleetSettings = ["Endpoints", "Prefix", "Name", "LeaseTtl"];

    private static readonly string[] s_settings =
    [
        "Name", "AccessLog", "Listen", "Backends", "Strategy", "RandomSeed", "ConnectTimeout", "MaxConnectAttempts", "IdleTimeout",
        "PanicMode", "MaxConnections", "MaxQueueLength", "QueueTimeout", "SlowStart", "DnsRefreshInterval", "FirstByteTimeout",
        "EventBufferCapacity", "HealthCheck", "OutlierDetection", "Clients", "Tls", "Sni", "AcceptProxy",
    ];

    private sealed class Reader(string root)
    {
        public List<string> Errors { get; } = [];

        /// <summary>Reports every key of <paramref name="section"/> that is not one of <paramref name="known"/>.</summary>
        public void Known(IConfiguration section, string what, IReadOnlyCollection<string> known)
        {
            foreach (var child in section.GetChildren())
            {
                if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
                {
                    Errors.Add($"{child.Path} is not a setting; the {what} settings are {string.Join(", ", known)}.");
                }
            }
        }

        // Each element of a list of sections, checked for unknown keys unless it is written as a plain value.
        private IEnumerable<IConfigurationSection> Elements(IConfiguration section, string key, string what, params string[] known)
        {
            foreach (var element in section.GetSection(key).GetChildren())
            {
                Known(element, what, known);
                yield return element;
            }
        }

        public LoadBalancerOptions Options(IConfiguration section)
        {
            var defaults = new LoadBalancerOptions();
            return new LoadBalancerOptions
            {
                Name = section["Name"] ?? defaults.Name,
                AccessLog = Bool(section, "AccessLog") ?? false,
                Listen = Strings(section, "Listen"),
                Backends = [.. Elements(section, "Backends", "backend", "Address", "Weight", "MaxConnections", "HealthCheck", "SendProxy", "State", "Pool", "Tls")
                    .Select(Backend)],
                Strategy = section["Strategy"] ?? defaults.Strategy,
                RandomSeed = Int(section, "RandomSeed"),
                ConnectTimeout = Duration(section, "ConnectTimeout") ?? defaults.ConnectTimeout,
                MaxConnectAttempts = Int(section, "MaxConnectAttempts") ?? defaults.MaxConnectAttempts,
                IdleTimeout = Duration(section, "IdleTimeout") ?? defaults.IdleTimeout,
                PanicMode = Bool(section, "PanicMode") ?? false,
                MaxConnections = Int(section, "MaxConnections") ?? 0,
                MaxQueueLength = Int(section, "MaxQueueLength") ?? 0,
                QueueTimeout = Duration(section, "QueueTimeout") ?? defaults.QueueTimeout,
                SlowStart = Duration(section, "SlowStart") ?? TimeSpan.Zero,
                DnsRefreshInterval = Duration(section, "DnsRefreshInterval") ?? TimeSpan.Zero,
                FirstByteTimeout = Duration(section, "FirstByteTimeout") ?? TimeSpan.Zero,
                EventBufferCapacity = Int(section, "EventBufferCapacity") ?? defaults.EventBufferCapacity,
                HealthCheck = HealthCheck(section.GetSection("HealthCheck")) ?? defaults.HealthCheck,
                OutlierDetection = Outliers(section.GetSection("OutlierDetection")),
                Clients = Clients(section.GetSection("Clients")),
                Tls = Check(section.GetSection("Tls"), "TLS", "CertificatePath", "KeyPath", "Password", "HandshakeTimeout") ? new TlsOptions
                {
                    CertificatePath = section["Tls:CertificatePath"],
                    KeyPath = section["Tls:KeyPath"],
                    Password = section["Tls:Password"],
                    HandshakeTimeout = Duration(section.GetSection("Tls"), "HandshakeTimeout") ?? defaults.Tls.HandshakeTimeout,
                } : defaults.Tls,
                Sni = Check(section.GetSection("Sni"), "SNI", "Routes", "HelloTimeout") ? new SniRoutingOptions
                {
                    Routes = [.. Elements(section, "Sni:Routes", "SNI route", "ServerName", "Pool")
                        .Select(route => new SniRoute(route["ServerName"] ?? string.Empty, route["Pool"] ?? string.Empty))],
                    HelloTimeout = Duration(section.GetSection("Sni"), "HelloTimeout") ?? defaults.Sni.HelloTimeout,
                } : defaults.Sni,
                AcceptProxy = Check(section.GetSection("AcceptProxy"), "PROXY header", "From", "HeaderTimeout") ? new AcceptProxyOptions
                {
                    From = Strings(section, "AcceptProxy:From"),
                    HeaderTimeout = Duration(section.GetSection("AcceptProxy"), "HeaderTimeout") ?? defaults.AcceptProxy.HeaderTimeout,
                } : defaults.AcceptProxy,
            };
        }

        private BackendTlsOptions? BackendTls(IConfigurationSection section) => !Check(
            section, "backend TLS", "ServerName", "ValidateCertificate", "TrustedCertificatesPath", "ClientCertificatePath", "ClientKeyPath",
            "ClientCertificatePassword") ? null : new BackendTlsOptions
        {
            ServerName = section["ServerName"],
            ValidateCertificate = Bool(section, "ValidateCertificate") ?? true,
            TrustedCertificatesPath = section["TrustedCertificatesPath"],
            ClientCertificatePath = section["ClientCertificatePath"],
            ClientKeyPath = section["ClientKeyPath"],
            ClientCertificatePassword = section["ClientCertificatePassword"],
        };

        private ProxyProtocolVersion ProxyVersion(IConfiguration section, string key)
        {
            var text = section[key];
            if (text is null)
            {
                return ProxyProtocolVersion.None;
            }

            if (Enum.TryParse<ProxyProtocolVersion>(text, ignoreCase: true, out var version) && Enum.IsDefined(version) && !int.TryParse(text, out _))
            {
                return version;
            }

            Errors.Add($"{Path(section, key)} '{text}' is not a PROXY protocol version; write None, V1 or V2.");
            return ProxyProtocolVersion.None;
        }

        private BackendState State(IConfiguration section, string key)
        {
            var text = section[key];
            if (text is null)
            {
                return BackendState.Active;
            }

            if (Enum.TryParse<BackendState>(text, ignoreCase: true, out var state) && Enum.IsDefined(state) && !int.TryParse(text, out _))
            {
                return state;
            }

            Errors.Add($"{Path(section, key)} '{text}' is not a backend state; write Active, Draining or Disabled.");
            return BackendState.Active;
        }

        private ClientOptions Clients(IConfigurationSection section)
        {
            var defaults = new ClientOptions();
            Check(section, "client", "Allow", "Deny", "Listeners", "MaxConnections", "MaxConnectionRate", "ConnectionRateInterval");
            return new ClientOptions
            {
                Allow = Strings(section, "Allow"),
                Deny = Strings(section, "Deny"),
                Listeners = [.. Elements(section, "Listeners", "listener", "Listen", "Allow", "Deny").Select(listener => new ListenerAccess
                {
                    Listen = listener["Listen"] ?? string.Empty,
                    Allow = Strings(listener, "Allow"),
                    Deny = Strings(listener, "Deny"),
                })],
                MaxConnections = Int(section, "MaxConnections") ?? 0,
                MaxConnectionRate = Int(section, "MaxConnectionRate") ?? 0,
                ConnectionRateInterval = Duration(section, "ConnectionRateInterval") ?? defaults.ConnectionRateInterval,
            };
        }

        private BackendOptions Backend(IConfigurationSection section) => new(section.Value ?? section["Address"] ?? string.Empty)
        {
            Weight = Int(section, "Weight") ?? 1,
            MaxConnections = Int(section, "MaxConnections") ?? 0,
            HealthCheck = HealthCheck(section.GetSection("HealthCheck")),
            SendProxy = ProxyVersion(section, "SendProxy"),
            State = State(section, "State"),
            Pool = section["Pool"],
            Tls = BackendTls(section.GetSection("Tls")),
        };

        private HealthCheckOptions? HealthCheck(IConfigurationSection section)
        {
            if (!Check(section, "health check", "Enabled", "Interval", "Timeout", "Rise", "Fall", "Send", "Expect"))
            {
                return null;
            }

            var defaults = new HealthCheckOptions();
            return new HealthCheckOptions
            {
                Enabled = Bool(section, "Enabled") ?? true,
                Interval = Duration(section, "Interval") ?? defaults.Interval,
                Timeout = Duration(section, "Timeout") ?? defaults.Timeout,
                Rise = Int(section, "Rise") ?? defaults.Rise,
                Fall = Int(section, "Fall") ?? defaults.Fall,
                Send = section["Send"],
                Expect = section["Expect"],
            };
        }

        private OutlierDetectionOptions Outliers(IConfigurationSection section)
        {
            var defaults = new OutlierDetectionOptions();
            Check(section, "outlier detection", "Enabled", "ConsecutiveFailures", "BaseEjectionTime", "MaxEjectionTime", "MaxEjectionPercent", "EjectLastAvailable");
            return new OutlierDetectionOptions
            {
                Enabled = Bool(section, "Enabled") ?? true,
                ConsecutiveFailures = Int(section, "ConsecutiveFailures") ?? defaults.ConsecutiveFailures,
                BaseEjectionTime = Duration(section, "BaseEjectionTime") ?? defaults.BaseEjectionTime,
                MaxEjectionTime = Duration(section, "MaxEjectionTime") ?? defaults.MaxEjectionTime,
                MaxEjectionPercent = Int(section, "MaxEjectionPercent") ?? defaults.MaxEjectionPercent,
                EjectLastAvailable = Bool(section, "EjectLastAvailable") ?? false,
            };
        }

        // Whether the section is there, after reporting its unknown keys.
        private bool Check(IConfigurationSection section, string what, params string[] known)
        {
            Known(section, what, known);
            return section.Exists();
        }

        // A list of strings (Listen, Allow, Deny, From): each child's value in order, an empty one kept as "" for the validator to name.
        private static string[] Strings(IConfiguration section, string key) =>
            [.. section.GetSection(key).GetChildren().Select(child => child.Value ?? string.Empty)];

        private int? Int(IConfiguration section, string key)
        {
            var text = section[key];
            if (text is null)
            {
                return null;
            }

            if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }

            Errors.Add($"{Path(section, key)} '{text}' is not a whole number.");
            return null;
        }

        private bool? Bool(IConfiguration section, string key)
        {
            var text = section[key];
            if (text is null)
            {
                return null;
            }

            if (bool.TryParse(text, out var value))
            {
                return value;
            }

            Errors.Add($"{Path(section, key)} '{text}' is not true or false.");
            return null;
        }

        public TimeSpan? Duration(IConfiguration section, string key)
        {
            var text = section[key];
            if (text is null)
            {
                return null;
            }

            if (Durations.TryParse(text, out var duration, out var error))
            {
                return duration;
            }

            // .NET's own "00:00:02" is accepted too, but only with a colon: TimeSpan reads a bare "2" as
            // two days, which is never what someone who forgot the unit meant.
            if (text.Contains(':') && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span))
            {
                return span;
            }

            Errors.Add($"{Path(section, key)} {error}.");
            return null;
        }

        public string Path(IConfiguration section, string key) =>
            section is IConfigurationSection named ? $"{named.Path}:{key}" : (root.Length > 0 ? $"{root}:{key}" : key);
    }
}
