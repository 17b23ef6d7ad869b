using System.Net.Sockets;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Security.Cryptography;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Pipeline;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Pipeline;

/// <summary>
/// The fold is the single source of truth: its input log, recorded on a live balancer, replays through the fold
/// and the projection into exactly the events the balancer published.
/// </summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public class ReplayTests
{
    [Fact]
    public async Task InputLog_ReplayedThroughTheFoldAndTheProjection_GivesExactlyThePublishedEvents()
    {
        // Two echo backends and one that refuses (retried elsewhere), relays checked byte for byte, a reset,
        // a membership change, a reconfiguration, a drain, and a stop: most kinds of input go through the log.
        await using var first = LoopbackServer.Echo();
        await using var second = LoopbackServer.Echo();
        var (refusing, refusingEndPoint) = Loopback.RefusingEndPoint();
        using var _ = refusing;
        var options = new LoadBalancerOptions
        {
            Backends = [new(refusingEndPoint.ToString()), new(first.Address)],
            HealthCheck = Balancers.NoHealthChecks,
        };
        var balancer = await Balancers.StartAsync(options with { Listen = ["127.0.0.1:0"] });
        var inputs = new List<BalancerInput>();
        var published = new List<LoadBalancerEvent>();
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var logging = balancer.InputLog.Subscribe(input =>
        {
            lock (inputs)
            {
                inputs.Add(input);
            }
        });
        using var recording = balancer.Events.Subscribe(published.Add, () => ended.SetResult());

        for (var i = 0; i < 4; i++)
        {
            await EchoesAsync(balancer, seed: i);
        }

        // A connection held open until the sampler has flushed its relay's bytes into the fold at least once.
        using (var held = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]))
        {
            var data = Loopback.RandomBytes(1024, seed: 20);
            await Loopback.SendAllAsync(held, data);
            await Loopback.WaitUntilAsync(
                () =>
                {
                    lock (inputs)
                    {
                        return inputs.OfType<BytesRelayed>().Any();
                    }
                },
                "the byte sampler flushes the held relay");
            held.Shutdown(SocketShutdown.Send);
            var (count, hash) = await Loopback.HashToEndAsync(held).WaitAsync(Loopback.Timeout);
            Assert.Equal((data.Length, Convert.ToHexString(SHA256.HashData(data))), (count, Convert.ToHexString(hash)));
        }

        balancer.AddBackend(new BackendOptions(second.Address));
        await EchoesAsync(balancer, seed: 10);
        using (var reset = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]))
        {
            await Loopback.SendAllAsync(reset, new byte[100]);
            Loopback.Reset(reset);
        }

        // A live reconfiguration changes the fold's rules; the replay must swap them at the same input.
        balancer.Reconfigure(options with { Listen = ["127.0.0.1:0"], MaxConnectAttempts = 2, Clients = new ClientOptions { Deny = ["10.0.0.0/8"] } });
        balancer.DrainBackend(first.Address);
        await EchoesAsync(balancer, seed: 11);
        using (var deadline = new CancellationTokenSource(Loopback.Timeout))
        {
            await balancer.StopAsync(deadline.Token);
        }

        await ended.Task.WaitAsync(Loopback.Timeout);

        // The log starts where the balancer's state started: the configured backends, nothing folded yet.
        var steps = await BalancerPipeline.Run(
                inputs.ToObservable(),
                BalancerState.Create(options.Backends, options.HealthCheck),
                FoldPolicy.From(options, new LeastConnectionsStrategy()))
            .ToList()
            .ToTask()
            .WaitAsync(Loopback.Timeout);
        var replayed = steps.SelectMany(EventProjection.Project).ToList();

        // The bytes counted while relays were live and at their ends replay too, into the statistics' very numbers.
        var counted = new Dictionary<string, (long FromClient, long FromBackend)>();
        foreach (var step in steps)
        {
            EventProjection.CountBytes(step, (backend, fromClient, fromBackend) =>
            {
                var (client, server) = counted.GetValueOrDefault(backend);
                counted[backend] = (client + fromClient, server + fromBackend);
            });
        }

        Assert.All(balancer.Statistics.Backends, row =>
            Assert.Equal(counted.GetValueOrDefault(row.Backend.Address), (row.BytesFromClient, row.BytesFromBackend)));
        Assert.Equal(
            published.OfType<ConnectionCompleted>().Sum(completed => completed.BytesFromClient + completed.BytesFromBackend),
            counted.Values.Sum(bytes => bytes.FromClient + bytes.FromBackend));

        Assert.Contains(published, e => e is ConnectAttemptFailed);
        Assert.Contains(published, e => e is ConnectionCompleted { Reason: CompletionReason.ClientReset });
        Assert.Contains(published, e => e is BackendMembershipChanged { Kind: MembershipChangeKind.DrainStarted });
        Assert.Contains(published, e => e is ConfigurationChanged { Applied.Count: 2 });
        Assert.IsType<BalancerStopped>(published[^1]);
        Assert.Equal(published, replayed);
    }

    private static async Task EchoesAsync(TcpLoadBalancer balancer, int seed)
    {
        var data = Loopback.RandomBytes(64 * 1024, seed);
        using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        var sending = Loopback.SendAllAsync(client, data).ContinueWith(_ => client.Shutdown(SocketShutdown.Send), TaskScheduler.Default);
        var (count, hash) = await Loopback.HashToEndAsync(client).WaitAsync(Loopback.Timeout);
        await sending.WaitAsync(Loopback.Timeout);
        Assert.Equal((data.Length, Convert.ToHexString(SHA256.HashData(data))), (count, Convert.ToHexString(hash)));
    }
}
