using System.Collections.Immutable;
using System.Net;
using System.Reactive;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>Small builders so fold tests read as timelines on Microsoft.Reactive.Testing's scheduler.</summary>
internal static class FoldTesting
{
    public static BalancerState State(params int[] weights) =>
        BalancerState.Create(weights.Select((weight, i) => new BackendOptions($"10.0.0.{i + 1}:80", weight)));

    public static BalancerState State(int backends) => State(Enumerable.Repeat(1, backends).ToArray());

    public static ConnectionArrived Arrive(long id, EndPoint? client = null) => new(id, client);

    public static ConnectionEnded Release(long id) => new(id);

    // ReactiveTest's notifications, typed as fold inputs: its generic OnNext would infer the event's own
    // record type, and one timeline mixes arrivals, releases, probes and membership changes.

    /// <summary><paramref name="event"/> at virtual time <paramref name="ticks"/>, for a hot or cold observable.</summary>
    public static Recorded<Notification<BalancerInput>> OnNext(long ticks, BalancerInput @event) => ReactiveTest.OnNext(ticks, @event);

    /// <summary>The end of a timeline of fold inputs at virtual time <paramref name="ticks"/>.</summary>
    public static Recorded<Notification<BalancerInput>> OnCompleted(long ticks) => ReactiveTest.OnCompleted<BalancerInput>(ticks);

    /// <summary>A timeline of fold inputs failing with <paramref name="error"/> at virtual time <paramref name="ticks"/>.</summary>
    public static Recorded<Notification<BalancerInput>> OnError(long ticks, Exception error) => ReactiveTest.OnError<BalancerInput>(ticks, error);

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

    /// <summary>A strategy's view of the fold's <paramref name="backends"/> for one decision.</summary>
    public static BalancingContext Context(
        BackendList backends, long decision = 0, EndPoint? client = null, long version = 0, Random? random = null) =>
        Context(backends.ToImmutableArray(), decision, client, version, random);

    /// <summary>Backends with the given active counts, all of weight 1.</summary>
    public static ImmutableArray<BackendSnapshot> WithActive(params int[] active) =>
        [.. State(active.Length).Backends.Select((backend, i) => backend with { ActiveConnections = active[i] })];

    /// <summary>The fold's rules, least connections unless told otherwise.</summary>
    public static FoldPolicy Policy(
        ILoadBalancingStrategy? strategy = null, int attempts = 3, OutlierDetectionOptions? outliers = null, bool panic = false) =>
        new(strategy ?? new LeastConnectionsStrategy(), new Random(0), attempts, outliers ?? new OutlierDetectionOptions(), panic);

    /// <summary>An hour of virtual time: when <see cref="StartFold"/> disposes the fold, long after any timeline here ends.</summary>
    public static readonly long OneHour = TimeSpan.FromHours(1).Ticks;

    /// <summary>
    /// Runs <paramref name="fold"/> on <paramref name="scheduler"/> from the start of virtual time, disposes it an hour in,
    /// and returns what it recorded. (The test scheduler moves anything due at or before its clock to the next tick,
    /// so the fold is created and subscribed at tick 1, before any timeline's first event.)
    /// </summary>
    public static ITestableObserver<T> StartFold<T>(this TestScheduler scheduler, Func<IObservable<T>> fold) =>
        scheduler.Start(fold, created: 0, subscribed: 0, disposed: OneHour);

    public static int[] Active(BalancerState state) => [.. state.Backends.Select(b => b.ActiveConnections)];
}
