using System.Reactive.Linq;
using LoadBalancer.Reactive;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using Spectre.Console;

namespace Quickstart;

/// <summary>The Quickstart program, runnable in-process so its behaviour can be tested.</summary>
internal static class QuickstartApp
{
    public const int ExitOk = 0;
    public const int ExitFailed = 1;
    public const int ExitUsage = 2;

    public static readonly int[] DemoPorts = [8081, 8082, 8083];

    // How long open connections may finish after Ctrl+C / SIGTERM before they are cut, unless told.
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_lastLinesTimeout = TimeSpan.FromSeconds(2);

    /// <param name="args">The command line.</param>
    /// <param name="output">Where event lines go.</param>
    /// <param name="error">Where problems go.</param>
    /// <param name="stop">Cancelled by Ctrl+C / SIGTERM.</param>
    /// <param name="demoPorts">Ports for the demo backends; tests pass zeros.</param>
    /// <param name="started">Told about the running balancer, once it listens.</param>
    /// <param name="reloadRequests">Asks to reload the configuration file (SIGHUP); the file's own changes also do.</param>
    public static async Task<int> RunAsync(
        IReadOnlyList<string> args,
        TextWriter output,
        TextWriter error,
        CancellationToken stop,
        IReadOnlyList<int>? demoPorts = null,
        Action<TcpLoadBalancer>? started = null,
        IObservable<System.Reactive.Unit>? reloadRequests = null)
    {
        // Event lines and access-log lines come from different threads.
        output = TextWriter.Synchronized(output);
        var (settings, errors) = QuickstartArguments.Parse(args);
        if (settings is null)
        {
            errors.ToList().ForEach(problem => error.WriteLine($"error: {problem}"));
            error.WriteLine();
            error.WriteLine(QuickstartArguments.Usage);
            return ExitUsage;
        }

        if (settings.ShowHelp)
        {
            output.WriteLine(QuickstartArguments.Usage);
            return ExitOk;
        }

        FileSettings? file = null;
        if (settings.ConfigPath is { } path)
        {
            (file, var fileErrors) = ConfigFile.Load(path);
            if (file is null)
            {
                fileErrors.ToList().ForEach(problem => error.WriteLine($"error: {problem}"));
                return ExitUsage;
            }
        }

        var fromFile = file?.Options ?? new LoadBalancerOptions();
        var drainTimeout = settings.DrainTimeout ?? file?.DrainTimeout ?? s_drainTimeout;
        var demos = new List<DemoBackend>();
        try
        {
            // Flags win over the file, and the file over the defaults.
            var backends = settings.Backends.Count > 0 ? settings.Backends : fromFile.Backends;
            if (backends.Count == 0)
            {
                var ports = demoPorts ?? DemoPorts;
                for (var i = 0; i < ports.Count; i++)
                {
                    demos.Add(DemoBackend.Start($"backend {i + 1}", ports[i]));
                }

                backends = [.. demos.Select(demo => new BackendOptions(demo.EndPoint.ToString()))];
                output.WriteLine($"Started {demos.Count} demo backends: {string.Join(", ", demos.Select(demo => demo.EndPoint))}");
            }

            var options = settings.Tuning(fromFile with
            {
                Listen = settings.ListenFlags.Count > 0 || fromFile.Listen.Count == 0 ? settings.Listen : fromFile.Listen,
                Backends = settings.WithFlags(backends),
                Strategy = settings.StrategyFlag ?? (file is null ? settings.Strategy : fromFile.Strategy),
                RandomSeed = settings.Seed ?? fromFile.RandomSeed,
            });
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
            output.WriteLine(
                $"Balancing {string.Join(", ", balancer.ListenEndPoints)} over {options.Backends.Count} backend(s) with {options.CustomStrategy?.ToString() ?? options.Strategy}.");
            output.WriteLine($"Try: curl http://{balancer.ListenEndPoints[0]}/   (Ctrl+C stops)");
            using var reloading = settings.ConfigPath is { } configPath && file is not null
                ? ConfigReloader.Start(
                    configPath, file, backendsFromFile: settings.Backends.Count == 0, balancer, reloadRequests, output, error, settings.WithFlags)
                : null;
            started?.Invoke(balancer);

            var dashboard = settings.Dashboard ? Dashboard.RunAsync(balancer, ConsoleFor(output), stop) : Task.CompletedTask;
            await WaitForStopAsync(stop);
            await dashboard;
            output.WriteLine($"Stopping: open connections have {Durations.Format(drainTimeout)} to finish.");
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
        finally
        {
            foreach (var demo in demos)
            {
                await demo.DisposeAsync();
            }
        }
    }

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
