using System.Globalization;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;

namespace Quickstart;

/// <summary>What the command line asked for.</summary>
/// <param name="ListenFlags">Where to accept clients, from --listen; empty when not given.</param>
/// <param name="Backends">The backends from --backend; empty means "from the file, or the demo backends".</param>
/// <param name="StrategyFlag">The strategy from --strategy, if given.</param>
/// <param name="ShowHelp">Print usage and exit.</param>
/// <param name="Seed">Seeds the random strategies, for reproducible runs.</param>
internal sealed record QuickstartSettings(
    IReadOnlyList<string> ListenFlags, IReadOnlyList<BackendOptions> Backends, string? StrategyFlag, bool ShowHelp, int? Seed = null)
{
    /// <summary>Where to accept clients when no file says otherwise.</summary>
    public IReadOnlyList<string> Listen => ListenFlags.Count > 0 ? ListenFlags : [QuickstartArguments.DefaultListen];

    /// <summary>The strategy when no file says otherwise.</summary>
    public string Strategy => StrategyFlag ?? LoadBalancingStrategies.LeastConnections;

    /// <summary>No backends from flags (the file's, or else the demo backends, are used).</summary>
    public bool Demo => Backends.Count == 0;

    /// <summary>Print backend and lifecycle events only, not a line per connection event (--quiet).</summary>
    public bool Quiet { get; init; }

    /// <summary>The PROXY protocol header every backend is sent, from --send-proxy; null leaves each backend's own.</summary>
    public ProxyProtocolVersion? SendProxy { get; init; }

    /// <summary>Backends of the pools named by --sni, each pool named after its server name.</summary>
    public IReadOnlyList<BackendOptions> SniBackends { get; init; } = [];

    /// <summary>
    /// Backends (from flags, the file or a reload) with the --sni pools added and what flags say about every
    /// backend applied, so a reload of the file keeps them.
    /// </summary>
    public IReadOnlyList<BackendOptions> WithFlags(IReadOnlyList<BackendOptions> backends)
    {
        IReadOnlyList<BackendOptions> all = [.. backends, .. SniBackends];
        return SendProxy is { } version ? [.. all.Select(backend => backend with { SendProxy = version })] : all;
    }

    /// <summary>Draw a live table of backends instead of printing events (--dashboard).</summary>
    public bool Dashboard { get; init; }

    /// <summary>The JSON configuration file, from --config.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>How long open connections may finish on Ctrl+C / SIGTERM, from --drain-timeout.</summary>
    public TimeSpan? DrainTimeout { get; init; }

    /// <summary>Everything else the flags set, applied to the balancer's options.</summary>
    public Func<LoadBalancerOptions, LoadBalancerOptions> Tuning { get; init; } = options => options;
}

/// <summary>Parses the Quickstart's command line, reporting every mistake at once.</summary>
internal static class QuickstartArguments
{
    public const string DefaultListen = "127.0.0.1:8000";

    public const string Usage = """
        Usage: dotnet run --project examples/Quickstart -- [options]

        With no --backend (and no backends in --config), starts three demo HTTP backends on
        127.0.0.1:8081-8083 and balances them.

        Options:
          --listen HOST:PORT          where to accept clients (repeatable; default 127.0.0.1:8000)
          --backend HOST:PORT[@W]     a backend, with an optional weight W (repeatable)
          --strategy NAME             how to pick a backend (default least-connections):
                                      least-connections, weighted-least-connections, round-robin,
                                      weighted-round-robin, random, power-of-two-choices,
                                      source-ip-hash, maglev
          --seed N                    seed the random strategies, to reproduce a run
          --connect-timeout D         how long a backend may take to accept (default 5s)
          --connect-attempts N        backends tried per connection before giving up (default 3)
          --idle-timeout D            close a connection idle this long; 0 for never (default 1h)
          --health-interval D         time between health probes (default 2s)
          --health-timeout D          how long one probe may take (default 1s)
          --rise N                    good probes in a row to mark a backend up (default 2)
          --fall N                    failed probes in a row to mark it down (default 3)
          --max-connections N         the most client connections at once; 0 for no limit (default 0)
          --max-queue N               connections that may wait for a slot; 0 refuses them (default 0)
          --queue-timeout D           how long a connection may wait in the queue (default 5s)
          --dns-refresh D             re-resolve backends written name:port this often; each address
                                      becomes a backend, vanished ones are drained (default off)
          --slow-start D              ramp a backend that joins or comes back up over this window (default off)
          --no-health-checks          do not probe backends
          --panic-mode                when no backend is available, use them all rather than reject
          --access-log                print a line per finished connection (client, listener, backend,
                                      connect/total ms, bytes each way, how it ended), as HAProxy's tcplog
          --allow CIDR, --deny CIDR   let in only clients from these networks / refuse these (repeatable;
                                      10.0.0.0/8, 2001:db8::/32 or one address; deny wins; rules for one
                                      listener go in --config: clients.listeners)
          --tls-cert FILE             terminate TLS (1.2 and 1.3) with this certificate: PEM (with --tls-key,
                                      or key in the same file) or PKCS#12 (.pfx); backends get plaintext
          --tls-key FILE              the PEM private key for --tls-cert
          --sni NAME=HOST:PORT,...     TLS passthrough: send TLS connections asking for server name NAME (or
                                      *.domain) to these backends; others go to the --backend ones (repeatable)
          --send-proxy v1|v2          send every backend a PROXY protocol header with the real client address
          --accept-proxy CIDR         read a PROXY header (v1 or v2) from connections from this network, a
                                      balancer in front of this one, and use the client it names (repeatable)
          --first-byte-timeout D      close a client that sends nothing for this long (client-speaks-first
                                      protocols only; default off)
          --max-conn-per-client N     the most connections one client address may hold at once
          --max-rate-per-client N/D   the most new connections one client address may open per interval
                                      (like 20/1s; refused attempts count too)

        Durations are written like 500ms, 2s, 1m or 1h.
          --quiet                     print backend and lifecycle events only, not every connection's
          --dashboard                 draw a live table of backends and a rate line instead of events
          --config FILE               read settings from a JSON file (flags override it); on SIGHUP or
                                      when the file changes, apply its backends and weights live
          --drain-timeout D           on Ctrl+C / SIGTERM, let open connections finish this long (default 5s)
          -h, --help                  show this help

        Example:
          dotnet run --project examples/Quickstart -- --listen 0.0.0.0:5432 --backend 10.0.0.5:5432 --backend 10.0.0.6:5432@2
        """;

    /// <summary>Returns the settings, or the list of problems with the arguments.</summary>
    public static (QuickstartSettings? Settings, IReadOnlyList<string> Errors) Parse(IReadOnlyList<string> args)
    {
        var errors = new List<string>();
        var listen = new List<string>();
        var backends = new List<BackendOptions>();
        string? strategy = null;
        string? config = null;
        TimeSpan? drain = null;
        int? seed = null;
        var help = false;
        var quiet = false;
        var dashboard = false;
        ProxyProtocolVersion? sendProxy = null;
        var sniBackends = new List<BackendOptions>();
        var tuning = new List<Func<LoadBalancerOptions, LoadBalancerOptions>>();

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "-h" or "--help":
                    help = true;
                    break;
                case "--listen":
                    if (TakeValue(args, ref i, arg, errors) is { } address)
                    {
                        listen.Add(address);
                    }

                    break;
                case "--backend":
                    if (TakeValue(args, ref i, arg, errors) is { } backend && ParseBackend(backend, errors) is { } options)
                    {
                        backends.Add(options);
                    }

                    break;
                case "--strategy":
                    if (TakeValue(args, ref i, arg, errors) is { } name)
                    {
                        if (strategy is not null)
                        {
                            errors.Add("--strategy is given more than once.");
                        }

                        strategy = name;
                    }

                    break;
                case "--seed":
                    if (TakeValue(args, ref i, arg, errors) is { } seedText)
                    {
                        if (int.TryParse(seedText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
                        {
                            seed = parsed;
                        }
                        else
                        {
                            errors.Add($"--seed '{seedText}' is not a whole number.");
                        }
                    }

                    break;
                case "--quiet":
                    quiet = true;
                    break;
                case "--dashboard":
                    dashboard = true;
                    break;
                case "--config":
                    config = TakeValue(args, ref i, arg, errors) ?? config;
                    break;
                case "--drain-timeout":
                    if (TakeValue(args, ref i, arg, errors) is { } drainText)
                    {
                        if (Durations.TryParse(drainText, out var parsedDrain, out var drainError))
                        {
                            drain = parsedDrain;
                        }
                        else
                        {
                            errors.Add($"{arg} {drainError}.");
                        }
                    }

                    break;
                case "--connect-timeout":
                    Duration(args, ref i, arg, errors, tuning, (o, d) => o with { ConnectTimeout = d });
                    break;
                case "--idle-timeout":
                    Duration(args, ref i, arg, errors, tuning, (o, d) => o with { IdleTimeout = d });
                    break;
                case "--health-interval":
                    Duration(args, ref i, arg, errors, tuning, (o, d) => o with { HealthCheck = o.HealthCheck with { Interval = d } });
                    break;
                case "--health-timeout":
                    Duration(args, ref i, arg, errors, tuning, (o, d) => o with { HealthCheck = o.HealthCheck with { Timeout = d } });
                    break;
                case "--connect-attempts":
                    Count(args, ref i, arg, errors, tuning, (o, n) => o with { MaxConnectAttempts = n });
                    break;
                case "--max-connections":
                    Count(args, ref i, arg, errors, tuning, (o, n) => o with { MaxConnections = n });
                    break;
                case "--max-queue":
                    Count(args, ref i, arg, errors, tuning, (o, n) => o with { MaxQueueLength = n });
                    break;
                case "--dns-refresh":
                    Duration(args, ref i, arg, errors, tuning, (o, d) => o with { DnsRefreshInterval = d });
                    break;
                case "--first-byte-timeout":
                    Duration(args, ref i, arg, errors, tuning, (o, d) => o with { FirstByteTimeout = d });
                    break;
                case "--slow-start":
                    Duration(args, ref i, arg, errors, tuning, (o, d) => o with { SlowStart = d });
                    break;
                case "--queue-timeout":
                    Duration(args, ref i, arg, errors, tuning, (o, d) => o with { QueueTimeout = d });
                    break;
                case "--rise":
                    Count(args, ref i, arg, errors, tuning, (o, n) => o with { HealthCheck = o.HealthCheck with { Rise = n } });
                    break;
                case "--fall":
                    Count(args, ref i, arg, errors, tuning, (o, n) => o with { HealthCheck = o.HealthCheck with { Fall = n } });
                    break;
                case "--no-health-checks":
                    tuning.Add(o => o with { HealthCheck = o.HealthCheck with { Enabled = false } });
                    break;
                case "--panic-mode":
                    tuning.Add(o => o with { PanicMode = true });
                    break;
                case "--access-log":
                    tuning.Add(o => o with { AccessLog = true });
                    break;
                case "--allow":
                    if (TakeValue(args, ref i, arg, errors) is { } allowed)
                    {
                        tuning.Add(o => o with { Clients = o.Clients with { Allow = [.. o.Clients.Allow, allowed] } });
                    }

                    break;
                case "--deny":
                    if (TakeValue(args, ref i, arg, errors) is { } denied)
                    {
                        tuning.Add(o => o with { Clients = o.Clients with { Deny = [.. o.Clients.Deny, denied] } });
                    }

                    break;
                case "--tls-cert":
                    if (TakeValue(args, ref i, arg, errors) is { } certificatePath)
                    {
                        tuning.Add(o => o with { Tls = o.Tls with { CertificatePath = certificatePath } });
                    }

                    break;
                case "--tls-key":
                    if (TakeValue(args, ref i, arg, errors) is { } keyPath)
                    {
                        tuning.Add(o => o with { Tls = o.Tls with { KeyPath = keyPath } });
                    }

                    break;
                case "--sni":
                    if (TakeValue(args, ref i, arg, errors) is { } routeText)
                    {
                        var equals = routeText.IndexOf('=', StringComparison.Ordinal);
                        var serverName = equals > 0 ? routeText[..equals].Trim() : string.Empty;
                        var addresses = equals > 0 ? routeText[(equals + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : [];
                        if (serverName.Length == 0 || addresses.Length == 0)
                        {
                            errors.Add($"{arg} '{routeText}' is not NAME=HOST:PORT[,HOST:PORT...] (like api.example.com=10.0.0.5:443,10.0.0.6:443).");
                        }
                        else
                        {
                            sniBackends.AddRange(addresses.Select(address => new BackendOptions(address) { Pool = serverName }));
                            tuning.Add(o => o with { Sni = o.Sni with { Routes = [.. o.Sni.Routes, new SniRoute(serverName, serverName)] } });
                        }
                    }

                    break;
                case "--accept-proxy":
                    if (TakeValue(args, ref i, arg, errors) is { } trusted)
                    {
                        tuning.Add(o => o with { AcceptProxy = o.AcceptProxy with { From = [.. o.AcceptProxy.From, trusted] } });
                    }

                    break;
                case "--send-proxy":
                    if (TakeValue(args, ref i, arg, errors) is { } versionText)
                    {
                        if (TryParseProxyVersion(versionText, out var version))
                        {
                            sendProxy = version;
                        }
                        else
                        {
                            errors.Add($"{arg} '{versionText}' is not a PROXY protocol version; write v1 or v2.");
                        }
                    }

                    break;
                case "--max-conn-per-client":
                    Count(args, ref i, arg, errors, tuning, (o, n) => o with { Clients = o.Clients with { MaxConnections = n } });
                    break;
                case "--max-rate-per-client":
                    if (TakeValue(args, ref i, arg, errors) is { } rateText)
                    {
                        if (ParseRate(rateText, out var count, out var interval))
                        {
                            tuning.Add(o => o with { Clients = o.Clients with { MaxConnectionRate = count, ConnectionRateInterval = interval } });
                        }
                        else
                        {
                            errors.Add($"{arg} '{rateText}' is not a rate; write connections per interval like 20/1s or 100/1m.");
                        }
                    }

                    break;
                default:
                    errors.Add(arg.StartsWith('-') ? $"Unknown option '{arg}'." : $"Unexpected argument '{arg}'.");
                    break;
            }
        }

        if (strategy is not null && !LoadBalancingStrategies.All.Contains(strategy))
        {
            errors.Add($"--strategy '{strategy}' is unknown; valid strategies are: {string.Join(", ", LoadBalancingStrategies.All)}.");
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        return (new QuickstartSettings(listen, backends, strategy, help, seed)
        {
            ConfigPath = config,
            DrainTimeout = drain,
            Quiet = quiet,
            Dashboard = dashboard,
            SendProxy = sendProxy,
            SniBackends = sniBackends,
            Tuning = options => tuning.Aggregate(options, (current, apply) => apply(current)),
        }, errors);
    }

    private static string? TakeValue(IReadOnlyList<string> args, ref int i, string option, List<string> errors)
    {
        if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
        {
            errors.Add($"{option} needs a value.");
            return null;
        }

        return args[++i];
    }

    private static void Duration(
        IReadOnlyList<string> args, ref int i, string option, List<string> errors,
        List<Func<LoadBalancerOptions, LoadBalancerOptions>> tuning, Func<LoadBalancerOptions, TimeSpan, LoadBalancerOptions> apply)
    {
        if (TakeValue(args, ref i, option, errors) is not { } text)
        {
            return;
        }

        if (Durations.TryParse(text, out var duration, out var error))
        {
            tuning.Add(options => apply(options, duration));
        }
        else
        {
            errors.Add($"{option} {error}.");
        }
    }

    private static void Count(
        IReadOnlyList<string> args, ref int i, string option, List<string> errors,
        List<Func<LoadBalancerOptions, LoadBalancerOptions>> tuning, Func<LoadBalancerOptions, int, LoadBalancerOptions> apply)
    {
        if (TakeValue(args, ref i, option, errors) is not { } text)
        {
            return;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            tuning.Add(options => apply(options, count));
        }
        else
        {
            errors.Add($"{option} '{text}' is not a whole number.");
        }
    }

    /// <summary>"v1", "v2" or "none", in any case.</summary>
    internal static bool TryParseProxyVersion(string text, out ProxyProtocolVersion version)
    {
        version = text.ToUpperInvariant() switch
        {
            "V1" => ProxyProtocolVersion.V1,
            "V2" => ProxyProtocolVersion.V2,
            "NONE" => ProxyProtocolVersion.None,
            _ => (ProxyProtocolVersion)(-1),
        };
        return Enum.IsDefined(version);
    }

    // "20/1s", "100/1m", or a bare "20" per second.
    private static bool ParseRate(string text, out int count, out TimeSpan interval)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        interval = TimeSpan.FromSeconds(1);
        var countText = slash < 0 ? text : text[..slash];
        return int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out count)
            && (slash < 0 || (Durations.TryParse(text[(slash + 1)..], out interval, out _) && interval > TimeSpan.Zero));
    }

    private static BackendOptions? ParseBackend(string text, List<string> errors)
    {
        var at = text.LastIndexOf('@');
        if (at < 0)
        {
            return new BackendOptions(text);
        }

        var weightText = text[(at + 1)..];
        if (!int.TryParse(weightText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var weight))
        {
            errors.Add($"--backend '{text}' has weight '{weightText}', which is not a whole number.");
            return null;
        }

        return new BackendOptions(text[..at], weight);
    }
}
