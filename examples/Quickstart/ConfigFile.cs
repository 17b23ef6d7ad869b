using System.Text.Json;
using LoadBalancer.Reactive.Configuration;

namespace Quickstart;

/// <summary>What a configuration file sets: the balancer's options and how long a stop may drain.</summary>
/// <param name="Options">The balancer's options.</param>
/// <param name="DrainTimeout">How long open connections may finish on Ctrl+C / SIGTERM, if the file says.</param>
internal sealed record FileSettings(LoadBalancerOptions Options, TimeSpan? DrainTimeout);

/// <summary>
/// Reads the Quickstart's JSON configuration: the same settings as its flags, durations written like
/// <c>"2s"</c>. Every mistake is reported at once, naming the file and the setting.
/// </summary>
/// <example>
/// <code>
/// {
///   "listen": ["0.0.0.0:5432"],
///   "backends": [ { "address": "10.0.0.5:5432" }, { "address": "10.0.0.6:5432", "weight": 2 } ],
///   "strategy": "least-connections",
///   "healthCheck": { "interval": "2s", "rise": 2, "fall": 3 },
///   "drainTimeout": "10s"
/// }
/// </code>
/// </example>
internal static class ConfigFile
{
    public static (FileSettings? Settings, IReadOnlyList<string> Errors) Load(string path)
    {
        var name = Path.GetFileName(path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return (null, [$"{name}: cannot be read: {exception.Message}"]);
        }
        catch (JsonException exception)
        {
            return (null, [$"{name}: is not valid JSON: {exception.Message}"]);
        }

        using (document)
        {
            var reader = new Reader(name);
            var settings = reader.Read(document.RootElement);
            if (reader.Errors.Count > 0)
            {
                return (null, reader.Errors);
            }

            // Listen endpoints and backends may come from flags instead; the rest must be valid here.
            var options = settings.Options;
            var invalid = LoadBalancerOptionsValidator.Validate(options with
            {
                Listen = options.Listen.Count > 0 ? options.Listen : [QuickstartArguments.DefaultListen],
                Backends = options.Backends.Count > 0 ? options.Backends : [new BackendOptions(QuickstartArguments.DefaultListen)],
            });
            return invalid.Count > 0 ? (null, [.. invalid.Select(error => $"{name}: {error}")]) : (settings, []);
        }
    }

    private sealed class Reader(string file)
    {
        public List<string> Errors { get; } = [];

        public FileSettings Read(JsonElement root)
        {
            var options = new LoadBalancerOptions();
            TimeSpan? drain = null;
            if (root.ValueKind != JsonValueKind.Object)
            {
                Errors.Add($"{file}: must hold one JSON object of settings.");
                return new FileSettings(options, drain);
            }

            foreach (var setting in root.EnumerateObject())
            {
                var value = setting.Value;
                options = setting.Name switch
                {
                    "listen" => options with { Listen = Strings(value, "listen") },
                    "backends" => options with { Backends = Backends(value) },
                    "strategy" => options with { Strategy = String(value, "strategy") ?? options.Strategy },
                    "seed" => options with { RandomSeed = Int(value, "seed") },
                    "connectTimeout" => options with { ConnectTimeout = Duration(value, "connectTimeout") ?? options.ConnectTimeout },
                    "connectAttempts" => options with { MaxConnectAttempts = Int(value, "connectAttempts") ?? options.MaxConnectAttempts },
                    "idleTimeout" => options with { IdleTimeout = Duration(value, "idleTimeout") ?? options.IdleTimeout },
                    "panicMode" => options with { PanicMode = Bool(value, "panicMode") ?? false },
                    "accessLog" => options with { AccessLog = Bool(value, "accessLog") ?? false },
                    "maxConnections" => options with { MaxConnections = Int(value, "maxConnections") ?? 0 },
                    "maxQueueLength" => options with { MaxQueueLength = Int(value, "maxQueueLength") ?? 0 },
                    "dnsRefresh" => options with { DnsRefreshInterval = Duration(value, "dnsRefresh") ?? TimeSpan.Zero },
                    "firstByteTimeout" => options with { FirstByteTimeout = Duration(value, "firstByteTimeout") ?? TimeSpan.Zero },
                    "slowStart" => options with { SlowStart = Duration(value, "slowStart") ?? TimeSpan.Zero },
                    "queueTimeout" => options with { QueueTimeout = Duration(value, "queueTimeout") ?? options.QueueTimeout },
                    "healthCheck" => options with { HealthCheck = HealthCheck(value, "healthCheck") },
                    "outlierDetection" => options with { OutlierDetection = Outliers(value) },
                    "clients" => options with { Clients = Clients(value) },
                    "acceptProxy" => options with { AcceptProxy = AcceptProxy(value) },
                    "sni" => options with { Sni = Sni(value) },
                    "tls" => options with { Tls = Tls(value) },
                    "drainTimeout" => options,
                    _ => Unknown(options, setting.Name),
                };
                if (setting.Name == "drainTimeout")
                {
                    drain = Duration(value, "drainTimeout");
                }
            }

            return new FileSettings(options, drain);
        }

        private LoadBalancerOptions Unknown(LoadBalancerOptions options, string name)
        {
            Errors.Add($"{file}: '{name}' is not a setting; see the Quickstart's --help for the names.");
            return options;
        }

        private BackendOptions[] Backends(JsonElement value)
        {
            if (value.ValueKind != JsonValueKind.Array)
            {
                Errors.Add($"{file}: backends must be a list.");
                return [];
            }

            return [.. value.EnumerateArray().Select((backend, i) => Backend(backend, $"backends[{i}]")).OfType<BackendOptions>()];
        }

        private BackendOptions? Backend(JsonElement value, string field)
        {
            if (value.ValueKind == JsonValueKind.String)
            {
                return new BackendOptions(value.GetString()!);
            }

            if (value.ValueKind != JsonValueKind.Object)
            {
                Errors.Add($"{file}: {field} must be \"HOST:PORT\" or an object with an address.");
                return null;
            }

            string? address = null;
            var backend = new BackendOptions { Address = string.Empty };
            foreach (var setting in value.EnumerateObject())
            {
                switch (setting.Name)
                {
                    case "address":
                        address = String(setting.Value, $"{field}.address");
                        break;
                    case "weight":
                        backend = backend with { Weight = Int(setting.Value, $"{field}.weight") ?? 1 };
                        break;
                    case "healthCheck":
                        backend = backend with { HealthCheck = HealthCheck(setting.Value, $"{field}.healthCheck") };
                        break;
                    case "maxConnections":
                        backend = backend with { MaxConnections = Int(setting.Value, $"{field}.maxConnections") ?? 0 };
                        break;
                    case "tls":
                        backend = backend with { Tls = BackendTls(setting.Value, $"{field}.tls") };
                        break;
                    case "pool":
                        backend = backend with { Pool = String(setting.Value, $"{field}.pool") };
                        break;
                    case "sendProxy":
                        backend = backend with { SendProxy = ProxyVersion(setting.Value, $"{field}.sendProxy") };
                        break;
                    default:
                        Errors.Add($"{file}: {field}.{setting.Name} is not a backend setting (address, weight, maxConnections, healthCheck, sendProxy, pool, tls).");
                        break;
                }
            }

            if (address is null)
            {
                Errors.Add($"{file}: {field} has no address.");
                return null;
            }

            return backend with { Address = address };
        }

        private HealthCheckOptions HealthCheck(JsonElement value, string field)
        {
            var check = new HealthCheckOptions();
            foreach (var setting in Object(value, field))
            {
                var path = $"{field}.{setting.Name}";
                check = setting.Name switch
                {
                    "enabled" => check with { Enabled = Bool(setting.Value, path) ?? true },
                    "interval" => check with { Interval = Duration(setting.Value, path) ?? check.Interval },
                    "timeout" => check with { Timeout = Duration(setting.Value, path) ?? check.Timeout },
                    "rise" => check with { Rise = Int(setting.Value, path) ?? check.Rise },
                    "fall" => check with { Fall = Int(setting.Value, path) ?? check.Fall },
                    "send" => check with { Send = String(setting.Value, path) },
                    "expect" => check with { Expect = String(setting.Value, path) },
                    _ => Bad(check, $"{path} is not a health check setting (enabled, interval, timeout, rise, fall, send, expect)."),
                };
            }

            return check;
        }

        private OutlierDetectionOptions Outliers(JsonElement value)
        {
            var outliers = new OutlierDetectionOptions();
            foreach (var setting in Object(value, "outlierDetection"))
            {
                var path = $"outlierDetection.{setting.Name}";
                outliers = setting.Name switch
                {
                    "enabled" => outliers with { Enabled = Bool(setting.Value, path) ?? true },
                    "consecutiveFailures" => outliers with { ConsecutiveFailures = Int(setting.Value, path) ?? outliers.ConsecutiveFailures },
                    "baseEjectionTime" => outliers with { BaseEjectionTime = Duration(setting.Value, path) ?? outliers.BaseEjectionTime },
                    "maxEjectionTime" => outliers with { MaxEjectionTime = Duration(setting.Value, path) ?? outliers.MaxEjectionTime },
                    "maxEjectionPercent" => outliers with { MaxEjectionPercent = Int(setting.Value, path) ?? outliers.MaxEjectionPercent },
                    "ejectLastAvailable" => outliers with { EjectLastAvailable = Bool(setting.Value, path) ?? false },
                    _ => Bad(outliers, $"{path} is not an outlier detection setting."),
                };
            }

            return outliers;
        }

        private ClientOptions Clients(JsonElement value)
        {
            var clients = new ClientOptions();
            foreach (var setting in Object(value, "clients"))
            {
                var path = $"clients.{setting.Name}";
                clients = setting.Name switch
                {
                    "allow" => clients with { Allow = Strings(setting.Value, path, "network") },
                    "deny" => clients with { Deny = Strings(setting.Value, path, "network") },
                    "listeners" => clients with { Listeners = Listeners(setting.Value, path) },
                    "maxConnections" => clients with { MaxConnections = Int(setting.Value, path) ?? 0 },
                    "maxConnectionRate" => clients with { MaxConnectionRate = Int(setting.Value, path) ?? 0 },
                    "connectionRateInterval" => clients with { ConnectionRateInterval = Duration(setting.Value, path) ?? clients.ConnectionRateInterval },
                    _ => Bad(clients, $"{path} is not a client setting (allow, deny, listeners, maxConnections, maxConnectionRate, connectionRateInterval)."),
                };
            }

            return clients;
        }

        // "listeners": [{ "listen": "127.0.0.1:9000", "allow": ["10.0.0.0/8"], "deny": [] }]
        private ListenerAccess[] Listeners(JsonElement value, string field)
        {
            if (value.ValueKind != JsonValueKind.Array)
            {
                Errors.Add($"{file}: {field} must be a list.");
                return [];
            }

            return [.. value.EnumerateArray().Select((listener, i) =>
            {
                var access = new ListenerAccess();
                foreach (var setting in Object(listener, $"{field}[{i}]"))
                {
                    var path = $"{field}[{i}].{setting.Name}";
                    access = setting.Name switch
                    {
                        "listen" => access with { Listen = String(setting.Value, path) ?? string.Empty },
                        "allow" => access with { Allow = Strings(setting.Value, path, "network") },
                        "deny" => access with { Deny = Strings(setting.Value, path, "network") },
                        _ => Bad(access, $"{path} is not a listener setting (listen, allow, deny)."),
                    };
                }

                return access;
            })];
        }

        private AcceptProxyOptions AcceptProxy(JsonElement value)
        {
            var acceptProxy = new AcceptProxyOptions();
            foreach (var setting in Object(value, "acceptProxy"))
            {
                var path = $"acceptProxy.{setting.Name}";
                acceptProxy = setting.Name switch
                {
                    "from" => acceptProxy with { From = Strings(setting.Value, path, "network") },
                    "headerTimeout" => acceptProxy with { HeaderTimeout = Duration(setting.Value, path) ?? acceptProxy.HeaderTimeout },
                    _ => Bad(acceptProxy, $"{path} is not an acceptProxy setting (from, headerTimeout)."),
                };
            }

            return acceptProxy;
        }

        // "tls": { "certificate": "server.pem", "key": "server.key", "password": null, "handshakeTimeout": "10s" }
        private TlsOptions Tls(JsonElement value)
        {
            var tls = new TlsOptions();
            foreach (var setting in Object(value, "tls"))
            {
                var path = $"tls.{setting.Name}";
                tls = setting.Name switch
                {
                    "certificate" => tls with { CertificatePath = String(setting.Value, path) },
                    "key" => tls with { KeyPath = String(setting.Value, path) },
                    "password" => tls with { Password = String(setting.Value, path) },
                    "handshakeTimeout" => tls with { HandshakeTimeout = Duration(setting.Value, path) ?? tls.HandshakeTimeout },
                    _ => Bad(tls, $"{path} is not a tls setting (certificate, key, password, handshakeTimeout)."),
                };
            }

            return tls;
        }

        private BackendTlsOptions BackendTls(JsonElement value, string field)
        {
            var tls = new BackendTlsOptions();
            foreach (var setting in Object(value, field))
            {
                var path = $"{field}.{setting.Name}";
                tls = setting.Name switch
                {
                    "serverName" => tls with { ServerName = String(setting.Value, path) },
                    "validateCertificate" => tls with { ValidateCertificate = Bool(setting.Value, path) ?? true },
                    "trustedCertificates" => tls with { TrustedCertificatesPath = String(setting.Value, path) },
                    "clientCertificate" => tls with { ClientCertificatePath = String(setting.Value, path) },
                    "clientKey" => tls with { ClientKeyPath = String(setting.Value, path) },
                    "clientCertificatePassword" => tls with { ClientCertificatePassword = String(setting.Value, path) },
                    _ => Bad(tls, $"{path} is not a backend tls setting (serverName, validateCertificate, trustedCertificates, clientCertificate, clientKey, clientCertificatePassword)."),
                };
            }

            return tls;
        }

        // "sni": { "routes": { "api.example.com": "api", "*.example.com": "web" }, "helloTimeout": "5s" }
        private SniRoutingOptions Sni(JsonElement value)
        {
            var sni = new SniRoutingOptions();
            foreach (var setting in Object(value, "sni"))
            {
                var path = $"sni.{setting.Name}";
                sni = setting.Name switch
                {
                    "routes" => sni with
                    {
                        Routes = [.. Object(setting.Value, path).Select(route => new SniRoute(route.Name, String(route.Value, $"{path}.{route.Name}") ?? string.Empty))],
                    },
                    "helloTimeout" => sni with { HelloTimeout = Duration(setting.Value, path) ?? sni.HelloTimeout },
                    _ => Bad(sni, $"{path} is not an sni setting (routes, helloTimeout)."),
                };
            }

            return sni;
        }

        private ProxyProtocolVersion ProxyVersion(JsonElement value, string field) =>
            String(value, field) is { } text && QuickstartArguments.TryParseProxyVersion(text, out var version)
                ? version
                : Bad(ProxyProtocolVersion.None, $"{field} must be \"v1\", \"v2\" or \"none\".");

        private T Bad<T>(T value, string error)
        {
            Errors.Add($"{file}: {error}");
            return value;
        }

        private IEnumerable<JsonProperty> Object(JsonElement value, string field)
        {
            if (value.ValueKind == JsonValueKind.Object)
            {
                return value.EnumerateObject();
            }

            Errors.Add($"{file}: {field} must be an object.");
            return [];
        }

        private string[] Strings(JsonElement value, string field, string what = "HOST:PORT")
        {
            if (value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(item => item.ValueKind == JsonValueKind.String))
            {
                return [.. value.EnumerateArray().Select(item => item.GetString()!)];
            }

            Errors.Add($"{file}: {field} must be a list of \"{what}\" strings.");
            return [];
        }

        private string? String(JsonElement value, string field)
        {
            if (value.ValueKind == JsonValueKind.String)
            {
                return value.GetString();
            }

            Errors.Add($"{file}: {field} must be a string.");
            return null;
        }

        private int? Int(JsonElement value, string field)
        {
            if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number))
            {
                return number;
            }

            Errors.Add($"{file}: {field} must be a whole number.");
            return null;
        }

        private bool? Bool(JsonElement value, string field)
        {
            if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return value.GetBoolean();
            }

            Errors.Add($"{file}: {field} must be true or false.");
            return null;
        }

        private TimeSpan? Duration(JsonElement value, string field)
        {
            var text = value.ValueKind == JsonValueKind.String ? value.GetString()
                : value.ValueKind == JsonValueKind.Number ? value.GetRawText() : null;
            if (Durations.TryParse(text, out var duration, out var error))
            {
                return duration;
            }

            Errors.Add($"{file}: {field} {error}.");
            return null;
        }
    }

    /// <summary>Describes what a reload cannot apply to a running balancer (anything but its backends).</summary>
    public static IReadOnlyList<string> NeedsRestart(LoadBalancerOptions running, LoadBalancerOptions loaded)
    {
        var changed = new List<string>();
        if (!running.Listen.SequenceEqual(loaded.Listen))
        {
            changed.Add("listen");
        }

        if (running.Strategy != loaded.Strategy || running.RandomSeed != loaded.RandomSeed)
        {
            changed.Add("strategy");
        }

        if (running.ConnectTimeout != loaded.ConnectTimeout || running.MaxConnectAttempts != loaded.MaxConnectAttempts
            || running.IdleTimeout != loaded.IdleTimeout || running.PanicMode != loaded.PanicMode)
        {
            changed.Add("timeouts, attempts or panic mode");
        }

        if (running.MaxConnections != loaded.MaxConnections || running.MaxQueueLength != loaded.MaxQueueLength
            || running.QueueTimeout != loaded.QueueTimeout || running.SlowStart != loaded.SlowStart)
        {
            changed.Add("connection limits, the queue or slow start");
        }

        if (running.HealthCheck != loaded.HealthCheck || running.OutlierDetection != loaded.OutlierDetection)
        {
            changed.Add("health checks or outlier detection");
        }

        return changed;
    }
}
