using System.Diagnostics;
using System.Net;
using System.Reactive.Concurrency;
using System.Reactive.Subjects;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Testing;

namespace StrategyLab;

/// <summary>What one backend went through in one run.</summary>
internal sealed record BackendResult(string Name, double MeanActive, int PeakActive, long Connections);

/// <summary>What one strategy did with the workload.</summary>
internal sealed record StrategyResult(
    string Strategy, IReadOnlyList<BackendResult> Backends, long Rejected, long Failed, TimeSpan Simulated, TimeSpan Wall)
{
    /// <summary>The busiest backend's mean active connections minus the idlest's.</summary>
    public double Spread => Backends.Max(b => b.MeanActive) - Backends.Min(b => b.MeanActive);
}

/// <summary>
/// A discrete-event simulation: arrivals and releases on a virtual-time scheduler, placed by the real
/// fold (<see cref="BalancingFold"/>) with the chosen strategy. Slow backends hold connections longer;
/// failing ones release them at once, as a backend that refuses connections would.
/// </summary>
internal sealed class Simulation
{
    private readonly LabOptions _options;
    private readonly BackendOptions[] _backends;
    private readonly double[] _slowness;
    private readonly bool[] _failing;
    private readonly EndPoint[] _clients;

    public Simulation(LabOptions options)
    {
        _options = options;
        _backends = [.. Enumerable.Range(1, options.Backends).Select(i => new BackendOptions($"10.0.{i / 250}.{(i % 250) + 1}:80"))];
        _slowness = [.. Enumerable.Range(0, options.Backends).Select(i => i < options.Slow ? options.SlowFactor : 1)];
        _failing = [.. Enumerable.Range(0, options.Backends).Select(i => i >= options.Slow && i < options.Slow + options.Failing)];
        _clients = [.. Enumerable.Range(0, options.Clients).Select(i => (EndPoint)new IPEndPoint(new IPAddress([100, (byte)(i >> 16), (byte)(i >> 8), (byte)i]), 40000))];
    }

    /// <summary>The name to show for backend <paramref name="index"/>, marking the slow and failing ones.</summary>
    public string Name(int index) =>
        $"b{index + 1}" + (_slowness[index] > 1 ? " (slow)" : _failing[index] ? " (failing)" : string.Empty);

    public StrategyResult Run(string strategy)
    {
        var wall = Stopwatch.StartNew();
        var scheduler = new HistoricalScheduler(DateTimeOffset.UnixEpoch);
        var workload = new Workload(_options);
        var input = new Subject<BalancerInput>();
        var count = _backends.Length;
        var active = new int[count];
        var peak = new int[count];
        var total = new long[count];
        var area = new double[count];
        var lastChange = new long[count];
        long rejected = 0;
        long failed = 0;

        // Drawn at arrival, before any strategy has seen the connection, so the workload is the same
        // for every strategy; the backend it lands on only scales it.
        var baseDuration = new TimeSpan[_options.Connections + 1];

        void Account(int backend, int nowActive, long now)
        {
            area[backend] += active[backend] * (double)(now - lastChange[backend]);
            lastChange[backend] = now;
            active[backend] = nowActive;
            peak[backend] = Math.Max(peak[backend], nowActive);
        }

        using var run = BalancingFold.Run(input, _backends, strategy, _options.Seed).Subscribe(step =>
        {
            var now = (scheduler.Now - DateTimeOffset.UnixEpoch).Ticks;
            switch (step.Decision)
            {
                case Assignment assignment:
                    var backend = assignment.BackendIndex;
                    Account(backend, assignment.Backend.ActiveConnections, now);
                    total[backend]++;
                    var lasts = _failing[backend] ? TimeSpan.Zero : baseDuration[assignment.ConnectionId] * _slowness[backend];
                    if (_failing[backend])
                    {
                        failed++;
                    }

                    var id = assignment.ConnectionId;
                    scheduler.Schedule(lasts, () => input.OnNext(new ConnectionEnded(id)));
                    break;
                case Release release:
                    Account(release.BackendIndex, release.Backend.ActiveConnections, now);
                    break;
                case Rejection:
                    rejected++;
                    break;
            }
        });

        // Means are taken over the arrival window, the same for every strategy; the drain afterwards
        // (stragglers on slow backends) would otherwise dilute them by different amounts.
        double[]? windowArea = null;
        long window = 0;
        long arrived = 0;
        scheduler.Schedule(workload.NextGap(TimeSpan.Zero), self =>
        {
            arrived++;
            var client = _clients[workload.NextClient()];
            baseDuration[arrived] = workload.NextDuration();
            input.OnNext(new ConnectionArrived(arrived, client));
            var now = (scheduler.Now - DateTimeOffset.UnixEpoch).Ticks;
            if (arrived < _options.Connections)
            {
                self(workload.NextGap(TimeSpan.FromTicks(now)));
                return;
            }

            for (var backend = 0; backend < count; backend++)
            {
                Account(backend, active[backend], now);
            }

            windowArea = [.. area];
            window = now;
        });
        scheduler.Start();

        var results = Enumerable.Range(0, count)
            .Select(b => new BackendResult(Name(b), window == 0 ? 0 : windowArea![b] / window, peak[b], total[b]))
            .ToList();
        return new StrategyResult(strategy, results, rejected, failed, TimeSpan.FromTicks(window), wall.Elapsed);
    }
}
