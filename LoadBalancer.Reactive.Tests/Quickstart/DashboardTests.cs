using System.Collections.Immutable;
using System.Net.Sockets;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Diagnostics;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Quickstart;
using Spectre.Console;

namespace LoadBalancer.Reactive.Tests.Quickstart;

/// <summary>The Quickstart's --dashboard: its frame drawn from statistics, and the flag end to end.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public class DashboardTests
{
    private static readonly DateTimeOffset s_start = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Render_DrawsARowPerBackendWithTotals_RatesFromThePreviousFrame_AndRecentEvents()
    {
        var up = new BackendSnapshot("127.0.0.1:8081", 2, 3, 40);
        var down = new BackendSnapshot("127.0.0.1:8082", 1, 0, 12) { Healthy = false, FailedConnections = 4 };
        var before = new BalancerStatistics(s_start.AddSeconds(58), s_start, 42, 0, 0, 0,
            [new(up, 1000, 2000, 37, null, null), new(down, 0, 0, 12, null, null)]);
        var now = new BalancerStatistics(s_start.AddSeconds(60), s_start, 52, 1, 2, 0,
            [new(up with { TotalConnections = 50 }, 1536, 4048, 47, null, null), new(down, 0, 0, 12, s_start.AddSeconds(30), "down: health checks failed")]);

        var text = Draw(Dashboard.Render(now, before, ["12:00:30 127.0.0.1:8082 is DOWN (health checks failed)"]));

        Assert.Contains("5.0 conn/s · in 268 B/s · out 1.0 KiB/s · 3 active · 52 accepted · 0 queued · 1 rejected · 2 failed · up 1m 0s", text, StringComparison.Ordinal);
        Assert.Matches(@"127\.0\.0\.1:8081 +│ UP +│ +2 │ +3 │ +50 │ +1\.5 KiB │ +4\.0 KiB │ +268 B/s │ +1\.0 KiB/s │ +0 │ +0 │", text);
        Assert.Matches(@"127\.0\.0\.1:8082 +│ DOWN +│ +1 │ +0 │ +12 │ +0 B │ +0 B │ +0 B/s │ +0 B/s │ +4 │ +0 │ 30s ago: down: health checks failed", text);
        Assert.Matches(@"total +│ +│ +│ +3 │ +62 │ +1\.5 KiB │ +4\.0 KiB │ +268 B/s │ +1\.0 KiB/s │", text);
        Assert.Contains("12:00:30 127.0.0.1:8082 is DOWN (health checks failed)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_BackendThatJoinedSinceTheEarlierFrame_RatesFromZero()
    {
        var joined = new BackendSnapshot("127.0.0.1:8083", 1, 1, 1);
        var before = new BalancerStatistics(s_start, s_start, 0, 0, 0, 0, []);
        var now = new BalancerStatistics(s_start.AddSeconds(2), s_start, 1, 0, 0, 0, [new(joined, 2048, 4096, 0, null, null)]);

        var text = Draw(Dashboard.Render(now, before, []));

        Assert.Matches(@"127\.0\.0\.1:8083 +│ UP +│ +1 │ +1 │ +1 │ +2\.0 KiB │ +4\.0 KiB │ +1\.0 KiB/s │ +2\.0 KiB/s │", text);
    }

    [Fact]
    public void Since_KeepsTheNewestFrameAtOrBeforeTheWindowsStart_AndEveryLaterOne()
    {
        var frames = ImmutableQueue.CreateRange(new[] { 0.0, 0.25, 1, 2.5, 3, 3.25 }.Select(Frame));

        Assert.Equal([1.0, 2.5, 3, 3.25], Seconds(Dashboard.Since(frames, At(1.5))));
        Assert.Equal([2.5, 3, 3.25], Seconds(Dashboard.Since(frames, At(2.5))));
        Assert.Equal([0.0, 0.25, 1, 2.5, 3, 3.25], Seconds(Dashboard.Since(frames, At(-1))));
        Assert.Equal([3.25], Seconds(Dashboard.Since(frames, At(10))));
        Assert.Empty(Dashboard.Since([], At(10)));

        static BalancerStatistics Frame(double second) => new(s_start.AddSeconds(second), s_start, 0, 0, 0, 0, []);
        static double[] Seconds(ImmutableQueue<BalancerStatistics> kept) => [.. kept.Select(frame => (frame.Time - s_start).TotalSeconds)];
        static DateTimeOffset At(double second) => s_start.AddSeconds(second);
    }

    [Fact]
    public async Task RunAsync_DashboardFlag_DrawsTheTableInsteadOfEventLines()
    {
        using var stop = new CancellationTokenSource();
        var output = new StringWriter();
        var started = new TaskCompletionSource<TcpLoadBalancer>();
        var running = QuickstartApp.RunAsync(
            ["--listen", "127.0.0.1:0", "--dashboard"], TextWriter.Synchronized(output), TextWriter.Null, stop.Token,
            demoPorts: [0, 0], started: started.SetResult);
        var balancer = await started.Task.WaitAsync(Loopback.Timeout);
        for (var i = 0; i < 3; i++)
        {
            await Loopback.AskAsync(balancer.ListenEndPoints[0]);
        }

        await Loopback.WaitUntilAsync(() => balancer.Statistics.Backends.Sum(row => row.Completed) == 3, "three completed connections");
        await stop.CancelAsync();
        Assert.Equal(QuickstartApp.ExitOk, await running.WaitAsync(Loopback.Timeout));

        var text = output.ToString();
        Assert.Contains("3 accepted", text, StringComparison.Ordinal);
        Assert.Contains("latest backend events", text, StringComparison.Ordinal);
        Assert.DoesNotContain("#1 accepted", text, StringComparison.Ordinal);
        Assert.Contains("stopped:", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_DashboardFlag_ShowsTheThroughputOfALongConnectionWhileItIsOpen()
    {
        await using var echo = LoopbackServer.Echo();
        using var stop = new CancellationTokenSource();
        var output = new StringWriter();
        var started = new TaskCompletionSource<TcpLoadBalancer>();
        var running = QuickstartApp.RunAsync(
            ["--listen", "127.0.0.1:0", "--backend", echo.Address, "--no-health-checks", "--dashboard"], TextWriter.Synchronized(output), TextWriter.Null, stop.Token,
            started: started.SetResult);
        var balancer = await started.Task.WaitAsync(Loopback.Timeout);

        // One connection, kept open and fed 64 KiB at a time, until a frame shows its bytes per second.
        using (var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]))
        {
            var burst = Loopback.RandomBytes(64 * 1024, seed: 7);
            var deadline = DateTime.UtcNow + Loopback.Timeout;
            while (!LiveRow().IsMatch(output.ToString()))
            {
                if (DateTime.UtcNow > deadline)
                {
                    Assert.Fail("No dashboard frame showed the open connection's throughput:\n" + output);
                }

                await Loopback.SendAllAsync(client, burst);
                var echoed = new byte[burst.Length];
                for (var read = 0; read < echoed.Length;)
                {
                    read += await client.ReceiveAsync(echoed.AsMemory(read), SocketFlags.None).AsTask().WaitAsync(Loopback.Timeout);
                }

                Assert.Equal(burst, echoed);
                await Task.Delay(20);
            }

            Assert.Equal(1, balancer.Snapshot.ActiveConnections);
            Assert.All(balancer.Statistics.Backends, row => Assert.Equal(0, row.Completed));
        }

        await stop.CancelAsync();
        Assert.Equal(QuickstartApp.ExitOk, await running.WaitAsync(Loopback.Timeout));
    }

    // The rate line with a nonzero rate each way (in KiB/s or MiB/s); the rows' columns are cut short on the test's console.
    private static System.Text.RegularExpressions.Regex LiveRow() => new(@"in [1-9][\d.]* [KM]iB/s · out [1-9][\d.]* [KM]iB/s");

    private static string Draw(Spectre.Console.Rendering.IRenderable frame)
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 160;
        console.Write(frame);
        return output.ToString();
    }
}
