using System.Net;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Quickstart;

namespace LoadBalancer.Reactive.Tests.Quickstart;

/// <summary>The command line's --strategy, end to end over loopback.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public class QuickstartStrategyTests
{
    [Fact]
    public async Task RoundRobin_300SequentialConnections_Split100EachExactly()
    {
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        await using var c = LoopbackServer.Named();
        await using var run = await QuickstartRun.StartAsync("--strategy", "round-robin", "--backend", a.Address, "--backend", b.Address, "--backend", c.Address);

        var answers = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            answers.Add(await Loopback.AskAsync(run.ListenEndPoint));
        }

        Assert.Equal([100, 100, 100], new[] { a, b, c }.Select(backend => answers.Count(answer => answer == backend.Address)));
        Assert.Equal(["abc", "abc"], new[] { answers[..3], answers[150..153] }.Select(turn =>
            string.Concat(turn.Select(answer => answer == a.Address ? 'a' : answer == b.Address ? 'b' : 'c'))));
    }

    [Fact]
    public async Task SourceIpHash_EachClientAddressSticksToOneBackend()
    {
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        await using var c = LoopbackServer.Named();
        await using var run = await QuickstartRun.StartAsync("--strategy", "source-ip-hash", "--backend", a.Address, "--backend", b.Address, "--backend", c.Address);

        // Twenty clients, each on its own 127.0.0.x source address, five connections apiece.
        var servedBy = new Dictionary<string, HashSet<string>>();
        for (var host = 2; host < 22; host++)
        {
            var client = IPAddress.Parse($"127.0.0.{host}");
            servedBy[client.ToString()] = [];
            for (var i = 0; i < 5; i++)
            {
                servedBy[client.ToString()].Add(await Loopback.AskAsync(run.ListenEndPoint, from: client));
            }
        }

        Assert.All(servedBy, client => Assert.Single(client.Value));
        Assert.Equal(3, servedBy.Values.Select(backends => backends.Single()).Distinct().Count());
    }

    /// <summary>The Quickstart running in-process on a free port, stopped (as by Ctrl+C) when disposed.</summary>
    private sealed class QuickstartRun : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop;
        private readonly Task<int> _running;

        private QuickstartRun(CancellationTokenSource stop, Task<int> running, IPEndPoint listenEndPoint)
        {
            _stop = stop;
            _running = running;
            ListenEndPoint = listenEndPoint;
        }

        public IPEndPoint ListenEndPoint { get; }

        public static async Task<QuickstartRun> StartAsync(params string[] args)
        {
            var stop = new CancellationTokenSource();
            var started = new TaskCompletionSource<TcpLoadBalancer>();
            var running = QuickstartApp.RunAsync(
                ["--listen", "127.0.0.1:0", .. args], TextWriter.Null, TextWriter.Null, stop.Token, started: started.SetResult);
            var balancer = await started.Task.WaitAsync(Loopback.Timeout);
            return new QuickstartRun(stop, running, balancer.ListenEndPoints[0]);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            Assert.Equal(QuickstartApp.ExitOk, await _running.WaitAsync(Loopback.Timeout));
            _stop.Dispose();
        }
    }
}
