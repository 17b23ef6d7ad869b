using System.Net;
using BenchmarkDotNet.Attributes;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;

namespace Micro;

/// <summary>One pick of each strategy, over 3, 100, 1,000 and 10,000 backends with uneven load, from the fold's backend tree.</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class StrategyBenchmarks
{
    private ILoadBalancingStrategy _strategy = null!;
    private BackendList _backends = BackendList.Empty;
    private IPEndPoint[] _clients = [];
    private Random _random = new(1);
    private long _decision;

    [ParamsSource(nameof(Names))]
    public string Strategy { get; set; } = LoadBalancingStrategies.LeastConnections;

    [Params(3, 100, 1000, 10_000)]
    public int Backends { get; set; }

    public static IEnumerable<string> Names => LoadBalancingStrategies.All;

    [GlobalSetup]
    public void Setup()
    {
        _strategy = LoadBalancingStrategies.Create(Strategy);
        _backends = BackendList.From(Enumerable.Range(0, Backends).Select(i =>
            new BackendSnapshot($"10.0.{i / 250}.{(i % 250) + 1}:80", 1 + (i % 3), i % 17, 0)));
        _clients = [.. Enumerable.Range(0, 1024).Select(i => new IPEndPoint(new IPAddress([100, 64, (byte)(i >> 8), (byte)i]), 40000))];
        _random = new Random(1);
        _decision = 0;
    }

    [Benchmark]
    public int Pick()
    {
        var decision = _decision++;
        return _strategy.Pick(new BalancingContext(_backends, decision, _clients[decision & 1023], decision, 0, _random));
    }
}
