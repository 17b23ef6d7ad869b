using System.Collections.Immutable;
using System.Net;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Small builders so fold tests read as timelines.</summary>
internal static class FoldTesting
{
    public static BalancerState State(params int[] weights) =>
        BalancerState.Create(weights.Select((weight, i) => new BackendOptions($"10.0.0.{i + 1}:80", weight)));

    public static BalancerState State(int backends) => State(Enumerable.Repeat(1, backends).ToArray());

    public static ConnectionArrived Arrive(long id, EndPoint? client = null) => new(id, client);

    public static ConnectionEnded Release(long id) => new(id);

    /// <summary>The backend each assignment went to, as "a", "b", "c"...; "-" for a rejection.</summary>
    public static string Letter(Decision decision) => decision switch
    {
        Assignment assignment => ((char)('a' + assignment.BackendIndex)).ToString(),
        Rejection => "-",
        _ => "?",
    };

    /// <summary>A strategy's view of <paramref name="backends"/> for one decision.</summary>
    public static BalancingContext Context(
        ImmutableArray<BackendSnapshot> backends, long decision = 0, EndPoint? client = null, long version = 0, Random? random = null) =>
        new(backends, connectionId: decision + 1, client, decision, version, random ?? new Random(0));

    /// <summary>Backends with the given active counts, all of weight 1.</summary>
    public static ImmutableArray<BackendSnapshot> WithActive(params int[] active) =>
        [.. State(active.Length).Backends.Select((backend, i) => backend with { ActiveConnections = active[i] })];

    /// <summary>The fold's rules, least connections unless told otherwise.</summary>
    public static FoldPolicy Policy(
        ILoadBalancingStrategy? strategy = null, int attempts = 3, OutlierDetectionOptions? outliers = null, bool panic = false) =>
        new(strategy ?? new LeastConnectionsStrategy(), new Random(0), attempts, outliers ?? new OutlierDetectionOptions(), panic);

    public static int[] Active(BalancerState state) => [.. state.Backends.Select(b => b.ActiveConnections)];
}
