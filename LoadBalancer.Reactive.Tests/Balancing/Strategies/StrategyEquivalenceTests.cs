using System.Net;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Tests.Balancing.Strategies;

/// <summary>
/// The built-in strategies pick from the backend tree in O(log n); the plain scans they replaced (<see cref="LinearStrategies"/>)
/// are the specification. Both run the same fold over the same seeded random sequences of arrivals, releases, failures,
/// probes, drains, weight changes, maintenance, slow-start steps, joins and leaves, and must decide alike at every step.
/// </summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class StrategyEquivalenceTests
{
    public static TheoryData<string, int, int> Cases()
    {
        var cases = new TheoryData<string, int, int>();
        string[] strategies =
        [
            LoadBalancingStrategies.LeastConnections, LoadBalancingStrategies.WeightedLeastConnections, LoadBalancingStrategies.RoundRobin,
            LoadBalancingStrategies.WeightedRoundRobin, LoadBalancingStrategies.Random, LoadBalancingStrategies.PowerOfTwoChoices,
            LoadBalancingStrategies.SourceIpHash,
        ];
        foreach (var strategy in strategies)
        {
            foreach (var (backends, seed) in new[] { (1, 1), (3, 2), (3, 3), (17, 4), (40, 5), (150, 6) })
            {
                cases.Add(strategy, backends, seed);
            }
        }

        return cases;
    }

    [Theory]
    [InlineData(3, 11)]
    [InlineData(40, 12)]
    public void Pick_WeightedRoundRobinRebasingItsLinesOften_DecidesAsTheLinearScan(int backends, int seed) =>
        AssertSameDecisions(new WeightedRoundRobinStrategy(rebaseAfter: 7), LinearStrategies.Create(LoadBalancingStrategies.WeightedRoundRobin), backends, seed);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Pick_RandomSequences_DecideAsTheLinearScan(string strategy, int backends, int seed) =>
        AssertSameDecisions(LoadBalancingStrategies.Create(strategy), LinearStrategies.Create(strategy), backends, seed);

    private static void AssertSameDecisions(ILoadBalancingStrategy treeStrategy, ILoadBalancingStrategy linearStrategy, int backends, int seed)
    {
        var script = new Random(seed);
        var options = Enumerable.Range(1, backends)
            .Select(i => new BackendOptions($"10.1.{i / 250}.{(i % 250) + 1}:80", script.Next(4) == 0 ? script.Next(0, 6) : 1)
            {
                MaxConnections = script.Next(5) == 0 ? 3 : 0,
            })
            .ToArray();
        var tree = Policy(treeStrategy, seed);
        var linear = Policy(linearStrategy, seed);
        var treeState = BalancerState.Create(options);
        var linearState = BalancerState.Create(options);
        var live = new List<long>();
        long nextId = 0, nextBackend = backends;

        for (var step = 0; step < 3_000; step++)
        {
            var input = NextInput(script, treeState, live, ref nextId, ref nextBackend);
            var fromTree = BalancerReducer.Reduce(treeState, input, tree);
            var fromLinear = BalancerReducer.Reduce(linearState, input, linear);

            Assert.True(Describe(fromTree) == Describe(fromLinear), $"step {step} ({input}): tree {Describe(fromTree)}, linear {Describe(fromLinear)}");
            Assert.Equal(Counts(fromLinear.State), Counts(fromTree.State));
            (treeState, linearState) = (fromTree.State, fromLinear.State);
            Track(fromTree, live);
        }
    }

    private static FoldPolicy Policy(ILoadBalancingStrategy strategy, int seed) =>
        new(strategy, new Random(seed), MaxConnectAttempts: 2, new OutlierDetectionOptions { ConsecutiveFailures = 2, EjectLastAvailable = true }, PanicMode: seed % 2 == 0)
        {
            SlowStart = TimeSpan.FromSeconds(10),
        };

    private static BalancerInput NextInput(Random script, BalancerState state, List<long> live, ref long nextId, ref long nextBackend)
    {
        var roll = script.Next(100);
        var backend = state.Backends.Count == 0 ? "none" : state.Backends[script.Next(state.Backends.Count)].Address;
        var client = new IPEndPoint(new IPAddress([100, 64, 0, (byte)script.Next(40)]), 40000);
        return roll switch
        {
            < 45 => new ConnectionArrived(++nextId, client),
            < 75 when live.Count > 0 => new ConnectionEnded(live[script.Next(live.Count)], BackendFailed: script.Next(8) == 0),
            < 79 when live.Count > 0 => new ConnectFailed(live[script.Next(live.Count)]),
            < 86 => new HealthProbed(backend, script.Next(3) > 0),
            < 88 => new DrainBackend(backend),
            < 90 => new DisableBackend(backend),
            < 93 => new EnableBackend(backend),
            < 95 => new ReweightBackend(backend, script.Next(0, 6)),
            < 98 => new SlowStartTick(backend),
            < 99 => new AddBackend(new BackendOptions($"10.2.{++nextBackend / 250}.{(nextBackend % 250) + 1}:80", script.Next(1, 4))),
            < 100 when state.Backends.Count > 1 => new RemoveBackend(backend),
            _ => new ConnectionArrived(++nextId, client),
        };
    }

    private static void Track(Step step, List<long> live)
    {
        Track(step.Decision, live);
        foreach (var assignment in step.FromQueue)
        {
            Track(assignment, live);
        }
    }

    private static void Track(Decision? decision, List<long> live)
    {
        switch (decision)
        {
            case Assignment assignment when !live.Contains(assignment.ConnectionId):
                live.Add(assignment.ConnectionId);
                break;
            case Release or GiveUp:
                live.Remove(decision.ConnectionId);
                break;
        }
    }

    private static string Describe(Step step) => step.Decision switch
    {
        Assignment a => $"assign {a.ConnectionId} to {a.BackendIndex}",
        Rejection r => $"reject {r.ConnectionId} ({r.Reason})",
        Release r => $"release {r.ConnectionId} from {r.BackendIndex}",
        GiveUp g => $"give up {g.ConnectionId} on {g.BackendIndex}",
        Queued q => $"queue {q.ConnectionId}",
        null => "nothing",
        var other => other.ToString(),
    };

    private static string[] Counts(BalancerState state) =>
        [.. state.Backends.Select(b => $"{b.Address} {b.ActiveConnections}/{b.TotalConnections} w{b.EffectiveWeight} {(b.Available ? "up" : "out")}")];
}
