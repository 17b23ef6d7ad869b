using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LoadBalancer.Reactive.Tests.Relaying;

/// <summary>
/// What a failure costs the balancer in first-chance exceptions (every throw and every rethrow counts). A refused
/// connect throws none. A client's reset throws the two that Pipelines.Sockets.Unofficial's receive loop cannot
/// avoid (its socket awaitable throws the SocketException, and the pipe it completes with a ConnectionResetException
/// rethrows that to its reader) and nothing more: the relay passes the fault on as a value, and ends the backend's
/// reads with a receive shutdown rather than an abort. Counted process-wide over many repetitions, alone (no other
/// test runs beside this collection), so a stray exception elsewhere cannot tip the average over the bound.
/// </summary>
[Collection(nameof(RealTimeCollection))]
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class FailureCostTests(ITestOutputHelper output)
{
    private const int Repetitions = 100;

    // The socket layer's SocketException and the pipe's rethrow of it, per reset.
    private const int ThrownBySocketLayerPerReset = 2;

    [Fact]
    public async Task ClientReset_ThrowsOnlyWhatTheSocketLayerThrows()
    {
        // The backend never reads, so its own side of each reset throws nothing here: what is counted is the balancer's.
        var done = new TaskCompletionSource();
        await using var backend = new LoopbackServer(_ => done.Task);
        await using var balancer = await Balancers.StartAsync(backend);
        using var events = new EventRecorder(balancer.Events);
        await ResetOnceAsync(balancer, events, 1);

        var thrown = await CountExceptionsAsync(async () =>
        {
            for (var i = 2; i <= Repetitions + 1; i++)
            {
                await ResetOnceAsync(balancer, events, i);
            }
        });

        done.SetResult();
        Assert.InRange(thrown, 0, Repetitions * ThrownBySocketLayerPerReset);
    }

    [Fact]
    public async Task RefusedConnect_ThrowsNoException()
    {
        var (holder, refusing) = Loopback.RefusingEndPoint();
        using var _ = holder;
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(refusing.ToString())],
            HealthCheck = Balancers.NoHealthChecks,
            MaxConnectAttempts = 1,
            OutlierDetection = new() { Enabled = false },
        });
        using var events = new EventRecorder(balancer.Events);
        await RefusedOnceAsync(balancer, events, 1);

        var thrown = await CountExceptionsAsync(async () =>
        {
            for (var i = 2; i <= Repetitions + 1; i++)
            {
                await RefusedOnceAsync(balancer, events, i);
            }
        });

        Assert.Equal(0, thrown);
    }

    private static async Task ResetOnceAsync(TcpLoadBalancer balancer, EventRecorder events, int count)
    {
        var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await Loopback.SendAllAsync(client, new byte[] { 1, 2, 3 });
        await events.WaitForAsync<BackendConnected>(count);
        Loopback.Reset(client);
        await events.WaitForAsync<ConnectionCompleted>(count);
    }

    private static async Task RefusedOnceAsync(TcpLoadBalancer balancer, EventRecorder events, int count)
    {
        using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await events.WaitForAsync<ConnectionFailed>(count);
    }

    private async Task<int> CountExceptionsAsync(Func<Task> failures)
    {
        var seen = new ConcurrentQueue<string>();
        void Count(object? sender, FirstChanceExceptionEventArgs e) => seen.Enqueue($"{e.Exception.GetType().Name}: {e.Exception.Message}");
        AppDomain.CurrentDomain.FirstChanceException += Count;
        try
        {
            await failures().WaitAsync(TimeSpan.FromMinutes(2));
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
        }

        foreach (var group in seen.GroupBy(s => s).OrderByDescending(g => g.Count()))
        {
            output.WriteLine($"{group.Count()} x {group.Key}");
        }

        return seen.Count;
    }
}
