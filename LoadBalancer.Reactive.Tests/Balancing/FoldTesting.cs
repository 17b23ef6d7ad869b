using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Small builders so fold tests read as timelines.</summary>
internal static class FoldTesting
{
    public static BalancerState State(params int[] weights) =>
        BalancerState.Create(weights.Select((weight, i) => new BackendOptions($"10.0.0.{i + 1}:80", weight)));

    public static BalancerState State(int backends) => State(Enumerable.Repeat(1, backends).ToArray());

    public static ConnectionArrived Arrive(long id) => new(id, null);

    public static ConnectionReleased Release(long id) => new(id);

    /// <summary>The backend each assignment went to, as "a", "b", "c"...; "-" for a rejection.</summary>
    public static string Letter(Decision decision) => decision switch
    {
        Assignment assignment => ((char)('a' + assignment.BackendIndex)).ToString(),
        Rejection => "-",
        _ => "?",
    };

    public static int[] Active(BalancerState state) => [.. state.Backends.Select(b => b.ActiveConnections)];
}
