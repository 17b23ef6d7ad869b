using System.CommandLine;
using System.Globalization;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;

namespace Quickstart;

/// <summary>What the command line asked for: the Quickstart's own switches, and settings as configuration keys.</summary>
internal sealed record QuickstartSettings
{
    /// <summary>The JSON configuration file, from --config.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>Validate the configuration and exit, binding nothing (--check).</summary>
    public bool Check { get; init; }

    /// <summary>Print backend and lifecycle events only, not a line per connection event (--quiet).</summary>
    public bool Quiet { get; init; }

    /// <summary>Draw a live table of backends instead of printing events (--dashboard).</summary>
    public bool Dashboard { get; init; }

    /// <summary>The configuration keys the flags set (<c>HealthCheck:Interval</c> = <c>2s</c>), winning over the environment and the file.</summary>
    public IReadOnlyDictionary<string, string?> Flags { get; init; } = new Dictionary<string, string?>();

    /// <summary>Lists that flags replace as a whole (<c>Listen</c>, <c>Backends</c>...): what the file and environment say of them is hidden.</summary>
    public IReadOnlyList<string> ReplacedLists { get; init; } = [];

    /// <summary>The PROXY protocol version every backend is sent (--send-proxy), wherever the backend is listed; null leaves each its own.</summary>
    public string? SendProxy { get; init; }
}

/// <summary>
/// The Quickstart's command line, parsed by System.CommandLine (generated help, <c>--version</c>,
/// <c>--name value</c> and <c>--name=value</c>). Each flag is a configuration key of the library's schema,
/// so flags, <c>LB_</c> environment variables and the JSON file say the same thing in the same words.
/// </summary>
internal static class QuickstartArguments
{
    public const string DefaultListen = "127.0.0.1:8000";

    /// <summary>The start of the keys of backends added by --sni (<c>Backends:sni-0-1</c>).</summary>
    public const string SniBackendPrefix = "sni-";

    // A flag whose value is one configuration key.
    private sealed record Setting(Option<string> Option, string Key);

    // A flag that is a list the command line replaces as a whole.
    private sealed record ListSetting(Option<string[]> Option, string Key);

    private static readonly Option<string[]> s_listen = List("--listen", "HOST:PORT", "where to accept clients (repeatable; default 127.0.0.1:8000)");
    private static readonly Option<string[]> s_backend = List(
        "--backend", "HOST:PORT[@W]", "a backend, with an optional weight W (repeatable); replaces the backends of --config", Backend);
    private static readonly Option<string[]> s_sni = List(
        "--sni", "NAME=HOST:PORT,...", "TLS passthrough: send TLS connections asking for server name NAME (or *.domain) to these backends (repeatable)", Route);
    private static readonly Option<string> s_sendProxy = Value(
        "--send-proxy", "v1|v2", "send every backend a PROXY protocol header with the real client address", ProxyVersion);
    private static readonly Option<string> s_rate = Value(
        "--max-rate-per-client", "N/D", "the most new connections one client address may open per interval (like 20/1s; refused attempts count too)", Rate);
    private static readonly Option<string> s_config = Value(
        "--config", "FILE", "read settings from a JSON file (environment and flags override it); reloaded on SIGHUP or when it changes", null);
    private static readonly Option<bool> s_check = Switch("--check", "validate the configuration (every problem, certificates loaded), print the result and exit: 0 valid, 2 not");
    private static readonly Option<bool> s_quiet = Switch("--quiet", "print backend and lifecycle events only, not every connection's");
    private static readonly Option<bool> s_dashboard = Switch("--dashboard", "draw a live table of backends and a rate line instead of events");

    private static readonly Setting[] s_settings =
    [
        new(Value("--strategy", "NAME", $"how to pick a backend (default least-connections): {string.Join(", ", LoadBalancingStrategies.All)}", Strategy), "Strategy"),
        new(Value("--seed", "N", "seed the random strategies, to reproduce a run", WholeNumber), "RandomSeed"),
        new(Value("--connect-timeout", "D", "how long a backend may take to accept (default 5s)", Duration), "ConnectTimeout"),
        new(Value("--connect-attempts", "N", "backends tried per connection before giving up (default 3)", Count), "MaxConnectAttempts"),
        new(Value("--idle-timeout", "D", "close a connection idle this long; 0 for never (default 1h)", Duration), "IdleTimeout"),
        new(Value("--health-interval", "D", "time between health probes (default 2s)", Duration), "HealthCheck:Interval"),
        new(Value("--health-timeout", "D", "how long one probe may take (default 1s)", Duration), "HealthCheck:Timeout"),
        new(Value("--rise", "N", "good probes in a row to mark a backend up (default 2)", Count), "HealthCheck:Rise"),
        new(Value("--fall", "N", "failed probes in a row to mark it down (default 3)", Count), "HealthCheck:Fall"),
        new(Value("--max-connections", "N", "the most client connections at once; 0 for no limit (default 0)", Count), "MaxConnections"),
        new(Value("--max-queue", "N", "connections that may wait for a slot; 0 refuses them (default 0)", Count), "MaxQueueLength"),
        new(Value("--queue-timeout", "D", "how long a connection may wait in the queue (default 5s)", Duration), "QueueTimeout"),
        new(Value("--dns-refresh", "D", "re-resolve backends written name:port this often; vanished addresses are drained (default off)", Duration), "DnsRefreshInterval"),
        new(Value("--slow-start", "D", "ramp a backend that joins or comes back up over this window (default off)", Duration), "SlowStart"),
        new(Value("--first-byte-timeout", "D", "close a client that sends nothing for this long (client-speaks-first protocols only; default off)", Duration), "FirstByteTimeout"),
        new(Value("--max-conn-per-client", "N", "the most connections one client address may hold at once", Count), "Clients:MaxConnections"),
        new(Value("--tls-cert", "FILE", "terminate TLS with this certificate: PEM (with --tls-key, or key in the same file) or PKCS#12 (.pfx)", null), "Tls:CertificatePath"),
        new(Value("--tls-key", "FILE", "the PEM private key for --tls-cert", null), "Tls:KeyPath"),
        new(Value("--drain-timeout", "D", "on Ctrl+C / SIGTERM, let open connections finish this long (default 5s)", Duration), "DrainTimeout"),
        new(Value("--etcd", "URL[,URL...]", "join a fleet coordinated through etcd: its backends come from etcd and drain/disable/enable/weight apply to every instance (see docs/fleet.md)", null), "Etcd:Endpoints"),
        new(Value("--etcd-prefix", "KEY", "the fleet's key prefix in etcd (default /loadbalancer)", null), "Etcd:Prefix"),
        new(Value("--name", "NAME", "this balancer's name: on its metrics, and its instance name in a fleet (default: machine name and process id)", null), "Name"),
        new(Value("--admin", "ENDPOINT", "serve the runtime API (show, drain, disable, enable, set weight...) on a Unix socket path or a loopback HOST:PORT (default off)", null), "Admin:Endpoint"),
        new(Value("--admin-token", "TOKEN", "the token runtime API clients must give first (auth TOKEN); needed for a non-loopback endpoint; LB_Admin__Token keeps it off the command line", null), "Admin:Token"),
    ];

    private static readonly (Option<bool> Option, string Key, string Value)[] s_switches =
    [
        (Switch("--no-health-checks", "do not probe backends"), "HealthCheck:Enabled", "false"),
        (Switch("--panic-mode", "when no backend is available, use them all rather than reject"), "PanicMode", "true"),
        (Switch("--access-log", "print a line per finished connection (client, listener, backend, connect/total ms, bytes, how it ended)"), "AccessLog", "true"),
    ];

    private static readonly ListSetting[] s_lists =
    [
        new(s_listen, "Listen"),
        new(List("--allow", "CIDR", "let in only clients from these networks (repeatable; replaces Clients:Allow of --config)", null), "Clients:Allow"),
        new(List("--deny", "CIDR", "refuse clients from these networks; deny wins (repeatable)", null), "Clients:Deny"),
        new(List("--accept-proxy", "CIDR", "read a PROXY header (v1 or v2) from connections from this network (repeatable)", null), "AcceptProxy:From"),
    ];

    private static readonly RootCommand s_command = Command();

    /// <summary>The generated help, as printed by <c>--help</c>.</summary>
    public static string Usage
    {
        get
        {
            var writer = new StringWriter();
            s_command.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = writer, Error = writer });
            return writer.ToString();
        }
    }

    /// <summary>Parses <paramref name="args"/>: the settings, or every problem with them.</summary>
    public static (QuickstartSettings? Settings, IReadOnlyList<string> Errors) Parse(IReadOnlyList<string> args)
    {
        var result = s_command.Parse(args);
        if (result.Errors.Count > 0)
        {
            return (null, [.. result.Errors.Select(error => error.Message)]);
        }

        var flags = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var replaced = new List<string>();
        foreach (var setting in s_settings)
        {
            if (result.GetValue(setting.Option) is { } value)
            {
                flags[setting.Key] = value;
            }
        }

        foreach (var (option, key, value) in s_switches)
        {
            if (result.GetValue(option))
            {
                flags[key] = value;
            }
        }

        foreach (var list in s_lists)
        {
            if (result.GetValue(list.Option) is { Length: > 0 } values)
            {
                replaced.Add(list.Key);
                for (var i = 0; i < values.Length; i++)
                {
                    flags[$"{list.Key}:{i}"] = values[i];
                }
            }
        }

        if (result.GetValue(s_backend) is { Length: > 0 } backends)
        {
            replaced.Add("Backends");
            for (var i = 0; i < backends.Length; i++)
            {
                var (address, weight) = SplitWeight(backends[i]);
                flags[$"Backends:{i}:Address"] = address;
                flags[$"Backends:{i}:Weight"] = weight;
            }
        }

        // --sni adds to what the file routes: keys that are not numbers sort after a file's list items.
        var routes = result.GetValue(s_sni) ?? [];
        for (var i = 0; i < routes.Length; i++)
        {
            var (serverName, addresses) = SplitRoute(routes[i]);
            flags[$"Sni:Routes:sni-{i}:ServerName"] = serverName;
            flags[$"Sni:Routes:sni-{i}:Pool"] = serverName;
            for (var j = 0; j < addresses.Length; j++)
            {
                flags[$"Backends:{SniBackendPrefix}{i}-{j}:Address"] = addresses[j];
                flags[$"Backends:{SniBackendPrefix}{i}-{j}:Pool"] = serverName;
            }
        }

        if (result.GetValue(s_rate) is { } rate)
        {
            var slash = rate.IndexOf('/', StringComparison.Ordinal);
            flags["Clients:MaxConnectionRate"] = slash < 0 ? rate : rate[..slash];
            flags["Clients:ConnectionRateInterval"] = slash < 0 ? "1s" : rate[(slash + 1)..];
        }

        return (new QuickstartSettings
        {
            ConfigPath = result.GetValue(s_config),
            Check = result.GetValue(s_check),
            Quiet = result.GetValue(s_quiet),
            Dashboard = result.GetValue(s_dashboard),
            Flags = flags,
            ReplacedLists = replaced,
            SendProxy = result.GetValue(s_sendProxy),
        }, []);
    }

    /// <summary>Whether the arguments ask for help or the version, which <see cref="Invoke"/> prints.</summary>
    public static bool AsksForHelpOrVersion(IReadOnlyList<string> args) => s_command.Parse(args) is { Errors.Count: 0, Action: not null };

    /// <summary>Prints the help or the version the arguments ask for.</summary>
    public static int Invoke(IReadOnlyList<string> args, TextWriter output, TextWriter error) =>
        s_command.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });

    private static RootCommand Command()
    {
        var command = new RootCommand("""
            A standalone TCP load balancer (LoadBalancer.Reactive).

            With no backends (from --backend, --config or LB_Backends__0__Address), starts three demo HTTP backends
            on 127.0.0.1:8081-8083 and balances them on 127.0.0.1:8000.

            Settings come from the --config JSON file, then LB_-prefixed environment variables (LB_HealthCheck__Interval=2s),
            then these flags, each winning over the one before; all use the library's configuration keys
            (MaxConnectAttempts, HealthCheck:Interval...). --listen, --backend, --allow, --deny and --accept-proxy replace
            the list they set; --sni adds routes. Durations are written like 500ms, 2s, 1m or 1h.

            Exit codes: 0 done, 1 failed (such as a port in use), 2 bad arguments or configuration.
            Example: lbr --listen 0.0.0.0:5432 --backend 10.0.0.5:5432 --backend 10.0.0.6:5432@2
            """);
        Option[] options =
        [
            s_listen, s_backend, .. s_settings.Select(setting => setting.Option), .. s_switches.Select(@switch => @switch.Option),
            .. s_lists.Skip(1).Select(list => list.Option), s_sni, s_sendProxy, s_rate, s_quiet, s_dashboard, s_config, s_check,
        ];
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        return command;
    }

    private static Option<string> Value(string name, string label, string description, Func<string, string, string?>? check)
    {
        var option = new Option<string>(name) { HelpName = label, Description = description };
        AddCheck(option, name, check);
        return option;
    }

    private static Option<string[]> List(string name, string label, string description, Func<string, string, string?>? check = null)
    {
        var option = new Option<string[]>(name) { HelpName = label, Description = description, Arity = ArgumentArity.OneOrMore };
        AddCheck(option, name, check);
        return option;
    }

    private static Option<bool> Switch(string name, string description) => new(name) { Description = description };

    // Each value the option was given, checked; a problem names the flag and the value. A value that is a flag
    // means the value was forgotten: System.CommandLine would otherwise take "--backend --listen" as a backend "--listen".
    private static void AddCheck(Option option, string name, Func<string, string, string?>? check)
    {
        option.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if ((token.Value.StartsWith("--", StringComparison.Ordinal) ? $"{name} needs a value before {token.Value}." : check?.Invoke(name, token.Value)) is { } problem)
                {
                    result.AddError(problem);
                }
            }
        });
    }

    private static string? Duration(string name, string text) => Durations.TryParse(text, out _, out var error) ? null : $"{name} {error}.";

    private static string? Count(string name, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? null : $"{name} '{text}' is not a whole number.";

    private static string? WholeNumber(string name, string text) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _) ? null : $"{name} '{text}' is not a whole number.";

    private static string? Strategy(string name, string text) => LoadBalancingStrategies.All.Contains(text)
        ? null
        : $"{name} '{text}' is unknown; valid strategies are: {string.Join(", ", LoadBalancingStrategies.All)}.";

    private static string? ProxyVersion(string name, string text) => text.ToUpperInvariant() is "V1" or "V2" or "NONE"
        ? null
        : $"{name} '{text}' is not a PROXY protocol version; write v1 or v2.";

    // "20/1s", "100/1m", or a bare "20" per second.
    private static string? Rate(string name, string text)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var count = slash < 0 ? text : text[..slash];
        var valid = int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out _)
            && (slash < 0 || (Durations.TryParse(text[(slash + 1)..], out var interval, out _) && interval > TimeSpan.Zero));
        return valid ? null : $"{name} '{text}' is not a rate; write connections per interval like 20/1s or 100/1m.";
    }

    private static string? Backend(string name, string text)
    {
        var (_, weight) = SplitWeight(text);
        return int.TryParse(weight, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)
            ? null
            : $"{name} '{text}' has weight '{weight}', which is not a whole number.";
    }

    private static string? Route(string name, string text) => SplitRoute(text) is { ServerName.Length: > 0, Addresses.Length: > 0 }
        ? null
        : $"{name} '{text}' is not NAME=HOST:PORT[,HOST:PORT...] (like api.example.com=10.0.0.5:443,10.0.0.6:443).";

    private static (string Address, string Weight) SplitWeight(string text)
    {
        var at = text.LastIndexOf('@');
        return at < 0 ? (text, "1") : (text[..at], text[(at + 1)..]);
    }

    private static (string ServerName, string[] Addresses) SplitRoute(string text)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        return equals <= 0
            ? (string.Empty, [])
            : (text[..equals].Trim(), text[(equals + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
    }
}
