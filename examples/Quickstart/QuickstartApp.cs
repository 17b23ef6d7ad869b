using System.Collections;
using System.Reactive.Concurrency;
using System.Reactive.Linq;
using LoadBalancer.Reactive;
using LoadBalancer.Reactive.Admin;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Fleet;
using Spectre.Console;

namespace Quickstart;

/// <summary>The Quickstart program, runnable in-process so its behaviour can be tested.</summary>
internal static class QuickstartApp
{
    public const int ExitOk = 0;
    public const int ExitFailed = 1;
    public const int ExitUsage = 2;

    public static readonly int[] DemoPorts = [8081, 8082, 8083];

    private static readonly TimeSpan s_lastLinesTimeout = TimeSpan.FromSeconds(2);

    /// <param name="args">The command line.</param>
    /// <param name="output">Where event lines go.</param>
    /// <param name="error">Where problems go.</param>
    /// <param name="stop">Cancelled by Ctrl+C / SIGTERM.</param>
    /// <param name="demoPorts">Ports for the demo backends; tests pass zeros.</param>
    /// <param name="started">Told about the running balancer, once it listens.</param>
    /// <param name="reloadRequests">Asks to reload the configuration (SIGHUP); the file's own changes also do.</param>
    /// <param name="environment">The environment variables (LB_ settings, NOTIFY_SOCKET); null reads the process's own.</param>
    public static async Task<int> RunAsync(
        IReadOnlyList<string> args,
        TextWriter output,
        TextWriter error,
        CancellationToken stop,
        IReadOnlyList<int>? demoPorts = null,
        Action<TcpLoadBalancer>? started = null,
        IObservable<System.Reactive.Unit>? reloadRequests = null,
        IDictionary? environment = null)
    {
        // Event lines and access-log lines come from different threads.
        output = TextWriter.Synchronized(output);
        if (QuickstartArguments.AsksForHelpOrVersion(args))
        {
            return QuickstartArguments.Invoke(args, output, error);
        }

        var (settings, errors) = QuickstartArguments.Parse(args);
        if (settings is null)
        {
            errors.ToList().ForEach(problem => error.WriteLine($"error: {problem}"));
            error.WriteLine();
            error.WriteLine(QuickstartArguments.Usage);
            return ExitUsage;
        }

        QuickstartConfiguration configuration;
        try
        {
            configuration = QuickstartConfiguration.Build(settings, environment);
        }
        catch (Exception exception) when (exception is IOException or InvalidDataException or FormatException or UnauthorizedAccessException)
        {
            error.WriteLine($"error: {QuickstartConfiguration.Describe(exception)}");
            return ExitUsage;
        }

        var demos = new List<DemoBackend>();
        try
        {
            if (!configuration.HasBackends && configuration.JoinsFleet && !settings.Check)
            {
                // A fleet's instance serves the fleet's backends from its first connection: read them before starting.
                configuration.UseBackends(await FleetBackendsAsync(configuration, stop));
            }
            else if (!configuration.HasBackends)
            {
                // --check validates the demo set-up without starting it.
                if (!settings.Check)
                {
                    var ports = demoPorts ?? DemoPorts;
                    for (var i = 0; i < ports.Count; i++)
                    {
                        demos.Add(DemoBackend.Start($"backend {i + 1}", ports[i]));
                    }

                    output.WriteLine($"Started {demos.Count} demo backends: {string.Join(", ", demos.Select(demo => demo.EndPoint))}");
                }

                configuration.UseBackends(settings.Check
                    ? [.. DemoPorts.Select(port => $"127.0.0.1:{port}")]
                    : [.. demos.Select(demo => demo.EndPoint.ToString())]);
            }

            var reading = configuration.Read();
            if (reading.Options is not { } options)
            {
                reading.Errors.ToList().ForEach(problem => error.WriteLine($"error: {problem}"));
                return ExitUsage;
            }

            if (settings.Check)
            {
                return await CheckAsync(options, output, error);
            }

            using var notifier = SystemdNotifier.Create(Variable(environment, SystemdNotifier.Variable), error);
            await using var balancer = new TcpLoadBalancer(options, logger: options.AccessLog ? new AccessLogger(output) : null);
            var printed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // The dashboard shows the events itself; only the closing summary is printed after it.
            var events = settings switch
            {
                { Dashboard: true } => balancer.Events.Where(@event => @event is BalancerStopped),
                { Quiet: true } => balancer.Events.Where(@event => !EventPrinter.IsPerConnection(@event)),
                _ => balancer.Events,
            };
            using var printing = events.Subscribe(
                @event => output.WriteLine(EventPrinter.Format(@event)), _ => printed.TrySetResult(), printed.SetResult);
            await balancer.StartAsync(stop);
            var balancing = $"Balancing {string.Join(", ", balancer.ListenEndPoints)} over {options.Backends.Count} backend(s) with {options.CustomStrategy?.ToString() ?? options.Strategy}.";
            output.WriteLine(balancing);
            output.WriteLine($"Try: curl http://{balancer.ListenEndPoints[0]}/   (Ctrl+C stops)");
            using var reloading = ConfigReloader.Start(settings.ConfigPath, configuration, reading, balancer, reloadRequests, output, error);
            await using var fleet = reading.Fleet is { } fleetOptions ? await JoinFleetAsync(balancer, fleetOptions, output, stop) : null;
            await using var admin = await StartRuntimeApiAsync(fleet?.CreateRuntimeApi() ?? new RuntimeApi(balancer), reading, stop);
            if (admin is not null)
            {
                output.WriteLine($"Runtime API on {reading.AdminEndpoint}: try  echo 'show backends' | socat stdio {SocatAddress(reading.AdminEndpoint!)}");
            }

            // Gives memory back after a wave of connections; the dashboard, which owns the screen, is not interrupted.
            using var trimming = new MemoryTrimmer(() => balancer.Statistics.ActiveConnections, MemoryTrimmer.Collect).Start(
                Scheduler.Default,
                (before, after) =>
                {
                    if (!settings.Dashboard)
                    {
                        output.WriteLine(FormattableString.Invariant(
                            $"Connections closed: memory returned, {before / 1048576.0:0.0} MiB resident before, {after / 1048576.0:0.0} MiB after."));
                    }
                });
            notifier.Ready(balancing);
            started?.Invoke(balancer);

            var dashboard = settings.Dashboard ? Dashboard.RunAsync(balancer, ConsoleFor(output), stop) : Task.CompletedTask;
            await WaitForStopAsync(stop);
            trimming.Dispose(); // a drain empties the balancer, which is no wave to trim after
            await dashboard;
            var drainTimeout = reloading.Current.DrainTimeout;
            if (fleet is not null)
            {
                // Leave the fleet first: the instance's key goes at once, and the fleet's changes stop arriving.
                await fleet.DisposeAsync();
            }

            var stopping = $"Stopping: open connections have {Durations.Format(drainTimeout)} to finish.";
            notifier.Stopping(stopping);
            output.WriteLine(stopping);
            using var deadline = new CancellationTokenSource(drainTimeout);
            await balancer.StopAsync(deadline.Token);

            // The event stream completes once every event has been delivered: print the last lines
            // (the "stopped" summary among them) before exiting, but never hang on them.
            await printed.Task.WaitAsync(s_lastLinesTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return ExitOk;
        }
        catch (LoadBalancerOptionsException exception)
        {
            exception.Errors.ToList().ForEach(problem => error.WriteLine($"error: {problem}"));
            return ExitUsage;
        }
        catch (IOException exception)
        {
            error.WriteLine($"error: {exception.Message}");
            return ExitFailed;
        }
        catch (RuntimeApiRefused refused)
        {
            error.WriteLine($"error: {refused.Message}");
            return ExitUsage;
        }
        catch (FleetRefused refused)
        {
            error.WriteLine($"error: {refused.Message}");
            return ExitFailed;
        }
        finally
        {
            foreach (var demo in demos)
            {
                await demo.DisposeAsync();
            }
        }
    }

    // Like haproxy -c: every problem, the certificates loaded as a balancer would load them, no socket bound.
    private static async Task<int> CheckAsync(LoadBalancerOptions options, TextWriter output, TextWriter error)
    {
        try
        {
            // Creating a balancer builds its runtime model (reading certificate and trust files) and binds nothing.
            await using var balancer = new TcpLoadBalancer(options);
        }
        catch (LoadBalancerOptionsException exception)
        {
            exception.Errors.ToList().ForEach(problem => error.WriteLine($"error: {problem}"));
            return ExitUsage;
        }

        output.WriteLine(
            $"Configuration is valid: {options.Listen.Count} listener(s), {options.Backends.Count} backend(s), strategy {options.Strategy}.");
        return ExitOk;
    }

    private static async Task<IReadOnlyList<BackendOptions>> FleetBackendsAsync(QuickstartConfiguration configuration, CancellationToken stop)
    {
        var problems = new List<string>();
        var fleet = configuration.ReadFleet(problems);
        if (fleet is null || problems.Count > 0)
        {
            throw new FleetRefused(string.Join(" ", problems.DefaultIfEmpty("Etcd: the fleet's settings are invalid.")), null);
        }

        IReadOnlyList<BackendOptions> stored;
        try
        {
            stored = await EtcdFleet.ReadBackendsAsync(fleet, stop);
        }
        catch (Exception exception) when (exception is Grpc.Core.RpcException or ArgumentException)
        {
            throw new FleetRefused($"Etcd: cannot read the fleet's backends from {string.Join(",", fleet.Endpoints)}: {exception.Message}", exception);
        }

        // With their weights and states: an instance started during a rolling restart sends nothing to a backend the
        // fleet has drained or disabled, from its first connection.
        return stored.Count > 0
            ? stored
            : throw new FleetRefused($"Etcd: no backend is stored under {fleet.Prefix}/backends/ yet; store some (see docs/fleet.md) or give --backend.", null);
    }

    // Joins the fleet once listening, and says so with the fleet's live instances.
    private static async Task<EtcdFleet> JoinFleetAsync(TcpLoadBalancer balancer, EtcdFleetOptions options, TextWriter output, CancellationToken stop)
    {
        EtcdFleet fleet;
        try
        {
            fleet = await EtcdFleet.JoinAsync(balancer, options, cancellationToken: stop);
        }
        catch (ArgumentException exception)
        {
            throw new FleetRefused($"Etcd: {exception.Message}", exception);
        }

        try
        {
            var instances = await fleet.ListInstancesAsync(stop);
            output.WriteLine($"Fleet: joined {options.Prefix} at {string.Join(",", options.Endpoints)} as {fleet.Name}; {instances.Count} live instance(s): {string.Join(", ", instances.Select(instance => instance.Name))}");
        }
        catch (Grpc.Core.RpcException)
        {
            output.WriteLine($"Fleet: {fleet.Name} joins {options.Prefix} once etcd at {string.Join(",", options.Endpoints)} answers; serving the configured backends meanwhile");
        }

        return fleet;
    }

    // The runtime API, when configured; a malformed endpoint, or a non-loopback one without a token, stops the start.
    private static async Task<RuntimeApiListener?> StartRuntimeApiAsync(RuntimeApi api, QuickstartReading reading, CancellationToken stop)
    {
        if (reading.AdminEndpoint is not { } endpoint)
        {
            return null;
        }

        try
        {
            return await RuntimeApiListener.StartAsync(api, endpoint, reading.AdminToken, cancellationToken: stop);
        }
        catch (ArgumentException exception)
        {
            var message = exception.ParamName is { } parameter ? exception.Message.Replace($" (Parameter '{parameter}')", string.Empty, StringComparison.Ordinal) : exception.Message;
            throw new RuntimeApiRefused($"Admin: {message}", exception);
        }
    }

    private static string SocatAddress(string endpoint) => endpoint.Contains('/', StringComparison.Ordinal) ? $"unix-connect:{endpoint}" : $"tcp:{endpoint}";

    private static string? Variable(IDictionary? environment, string name) =>
        environment is null ? Environment.GetEnvironmentVariable(name) : environment[name] as string;

    // A terminal when output is the console's own (colours, redrawing in place); plain text otherwise.
    private static IAnsiConsole ConsoleFor(TextWriter output) =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });

    private static async Task WaitForStopAsync(CancellationToken stop)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, stop);
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>The runtime API's settings were refused when it started; the message names the setting.</summary>
internal sealed class RuntimeApiRefused(string message, Exception inner) : Exception(message, inner);

/// <summary>The fleet could not be joined or read; the message names the setting and etcd's endpoints.</summary>
internal sealed class FleetRefused(string message, Exception? inner) : Exception(message, inner);
