using LoadBalancer.Reactive;
using LoadBalancer.Reactive.Configuration;

namespace Quickstart;

/// <summary>The Quickstart program, runnable in-process so its behaviour can be tested.</summary>
internal static class QuickstartApp
{
    public const int ExitOk = 0;
    public const int ExitFailed = 1;
    public const int ExitUsage = 2;

    public static readonly int[] DemoPorts = [8081, 8082, 8083];

    // How long open connections may finish after Ctrl+C / SIGTERM before they are cut.
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_lastLinesTimeout = TimeSpan.FromSeconds(2);

    /// <param name="args">The command line.</param>
    /// <param name="output">Where event lines go.</param>
    /// <param name="error">Where problems go.</param>
    /// <param name="stop">Cancelled by Ctrl+C / SIGTERM.</param>
    /// <param name="demoPorts">Ports for the demo backends; tests pass zeros.</param>
    /// <param name="started">Told about the running balancer, once it listens.</param>
    public static async Task<int> RunAsync(
        IReadOnlyList<string> args,
        TextWriter output,
        TextWriter error,
        CancellationToken stop,
        IReadOnlyList<int>? demoPorts = null,
        Action<TcpLoadBalancer>? started = null)
    {
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

        var demos = new List<DemoBackend>();
        try
        {
            var backends = settings.Backends;
            if (settings.Demo)
            {
                var ports = demoPorts ?? DemoPorts;
                for (var i = 0; i < ports.Count; i++)
                {
                    demos.Add(DemoBackend.Start($"backend {i + 1}", ports[i]));
                }

                backends = [.. demos.Select(demo => new BackendOptions(demo.EndPoint.ToString()))];
                output.WriteLine($"Started {demos.Count} demo backends: {string.Join(", ", demos.Select(demo => demo.EndPoint))}");
            }

            var options = settings.Tuning(new LoadBalancerOptions
            {
                Listen = settings.Listen,
                Backends = backends,
                Strategy = settings.Strategy,
                RandomSeed = settings.Seed,
            });
            await using var balancer = new TcpLoadBalancer(options);
            var printed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var printing = balancer.Events.Subscribe(
                @event => output.WriteLine(EventPrinter.Format(@event)), _ => printed.TrySetResult(), printed.SetResult);
            await balancer.StartAsync(stop);
            output.WriteLine(
                $"Balancing {string.Join(", ", balancer.ListenEndPoints)} over {backends.Count} backend(s) with {settings.Strategy}.");
            output.WriteLine($"Try: curl http://{balancer.ListenEndPoints[0]}/   (Ctrl+C stops)");
            started?.Invoke(balancer);

            await WaitForStopAsync(stop);
            output.WriteLine($"Stopping: open connections have {s_drainTimeout.TotalSeconds:0} s to finish.");
            using var deadline = new CancellationTokenSource(s_drainTimeout);
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
