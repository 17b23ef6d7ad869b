using StrategyLab;

namespace LoadBalancer.Reactive.Tests.StrategyLab;

/// <summary>The strategy lab: its command line, and simulations small enough to run in a test.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class StrategyLabTests
{
    private static readonly LabOptions s_small = new() { Connections = 5_000, Backends = 4, Rate = 500, Slow = 0, Failing = 0 };

    [Fact]
    public void Parse_NoArguments_GivesTheDefaultWorkloadAndEveryStrategy()
    {
        var (options, errors) = LabOptions.Parse([]);

        Assert.Empty(errors);
        Assert.Equal(200_000, options!.Connections);
        Assert.Equal(8, options.Strategies.Count);
    }

    [Fact]
    public void Parse_EveryOption_IsRead()
    {
        var (options, errors) = LabOptions.Parse(
        [
            "--connections", "1000", "--backends", "7", "--rate", "250.5", "--arrivals", "bursts", "--durations", "pareto",
            "--mean-duration", "2s", "--slow", "2", "--slow-factor", "3", "--failing", "1", "--clients", "50",
            "--strategies", "maglev,round-robin", "--seed", "9",
        ]);

        Assert.Empty(errors);
        Assert.Equal(
            new LabOptions
            {
                Connections = 1000, Backends = 7, Rate = 250.5, Arrivals = ArrivalProcess.Bursts, Durations = DurationModel.Pareto,
                MeanDuration = TimeSpan.FromSeconds(2), Slow = 2, SlowFactor = 3, Failing = 1, Clients = 50,
                Strategies = options!.Strategies, Seed = 9,
            },
            options);
        Assert.Equal(["maglev", "round-robin"], options.Strategies);
    }

    [Fact]
    public void Parse_Mistakes_AreAllReported()
    {
        var (options, errors) = LabOptions.Parse(
            ["--backends", "2", "--slow", "2", "--failing", "1", "--strategies", "fastest", "--mean-duration", "5", "--arrivals", "waves", "--bogus", "1"]);

        Assert.Null(options);
        Assert.Equal(
            [
                "--strategies 'fastest' is unknown; valid strategies are: least-connections, weighted-least-connections, round-robin, weighted-round-robin, random, power-of-two-choices, source-ip-hash, maglev.",
                "--mean-duration '5' has no unit; write it like 500ms, 2s, 1m or 1h.",
                "--arrivals 'waves' must be one of: poisson, bursts.",
                "Unknown option '--bogus'.",
                "--slow 2 and --failing 1 add up to more than --backends 2.",
            ],
            errors);
    }

    [Fact]
    public void Run_EveryStrategyFacesTheSameWorkload()
    {
        var simulation = new Simulation(s_small);

        var results = LoadBalancer.Reactive.Balancing.Strategies.LoadBalancingStrategies.All.Select(simulation.Run).ToList();

        Assert.All(results, result => Assert.Equal(5_000, result.Backends.Sum(b => b.Connections)));
        Assert.Single(results.Select(result => result.Simulated).Distinct());
    }

    [Fact]
    public void Run_RoundRobin_GivesEveryBackendTheSameNumberOfConnections()
    {
        var result = new Simulation(s_small).Run("round-robin");

        Assert.All(result.Backends, backend => Assert.Equal(1_250, backend.Connections));
    }

    [Fact]
    public void Run_SlowBackend_LeastConnectionsKeepsItsLoadLevelWhereRoundRobinPilesUp()
    {
        var simulation = new Simulation(s_small with { Slow = 1, SlowFactor = 4 });

        var leastConnections = simulation.Run("least-connections");
        var roundRobin = simulation.Run("round-robin");

        Assert.True(leastConnections.Spread < 1, $"least-connections spread {leastConnections.Spread}");
        Assert.True(roundRobin.Spread > 5, $"round-robin spread {roundRobin.Spread}");
    }

    [Fact]
    public void Run_FailingBackend_DrawsLeastConnectionsTraffic()
    {
        // A backend that refuses at once always looks idle: without health checks, least connections
        // sends it most connections. This is what passive outlier detection exists to stop.
        var result = new Simulation(s_small with { Failing = 1 }).Run("least-connections");

        Assert.True(result.Failed > 2_500, $"{result.Failed} of 5,000 went to the failing backend");
    }

    [Fact]
    public void Run_SameSeed_SameResults()
    {
        var a = new Simulation(s_small with { Slow = 1 }).Run("power-of-two-choices");
        var b = new Simulation(s_small with { Slow = 1 }).Run("power-of-two-choices");

        Assert.Equal(a.Backends, b.Backends);
    }

    [Fact]
    public void Format_PrintsOneRowPerBackendAndTheSummaries()
    {
        var simulation = new Simulation(s_small with { Slow = 1, Failing = 1 });
        var results = new[] { simulation.Run("round-robin"), simulation.Run("maglev") };

        var lines = LabReport.Format(s_small, results).Split('\n');

        Assert.Contains(lines, line => line.StartsWith("b1 (slow)", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("b2 (failing)", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("spread", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("rejected", StringComparison.Ordinal));
    }
}
