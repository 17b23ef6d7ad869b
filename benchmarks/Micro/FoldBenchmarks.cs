using System.Reactive.Linq;
using BenchmarkDotNet.Attributes;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Testing;

namespace Micro;

/// <summary>Decisions per second through the real fold (BalancingFold: the serialized stream, Scan and Reduce).</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class FoldBenchmarks
{
    private const int Connections = 50_000;
    private BalancerInput[] _events = [];
    private LoadBalancerOptions _options = new();

    [Params(3, 100, 10_000)]
    public int Backends { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _options = new LoadBalancerOptions
        {
            Backends = [.. Enumerable.Range(1, Backends).Select(i => new BackendOptions($"10.0.{i / 250}.{(i % 250) + 1}:80"))],
            HealthCheck = new HealthCheckOptions { Enabled = false },
        };

        // Each connection is released a few arrivals later, so about eight are open at once.
        var events = new List<BalancerInput>();
        for (var id = 1; id <= Connections; id++)
        {
            events.Add(new ConnectionArrived(id));
            if (id > 8)
            {
                events.Add(new ConnectionEnded(id - 8));
            }
        }

        _events = [.. events];
    }

    /// <summary>One operation is one connection: its arrival and its release.</summary>
    [Benchmark(OperationsPerInvoke = Connections)]
    public int ArrivalsAndReleases()
    {
        var decisions = 0;
        using var _ = BalancingFold.Run(_events.ToObservable(), _options).Subscribe(step => decisions += step.Decision is null ? 0 : 1);
        return decisions;
    }
}
