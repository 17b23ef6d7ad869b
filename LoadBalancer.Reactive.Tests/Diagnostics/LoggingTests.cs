using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Diagnostics;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Diagnostics;

/// <summary>What the balancer writes to ILogger, at which level, with which event id.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class LoggingTests
{
    [Fact]
    public async Task Logging_ProblemsAndLifecycleAtInformationAndAbove_ConnectionsAtDebugOnly()
    {
        var (holder, refusing) = Loopback.RefusingEndPoint();
        using var _ = holder;
        await using var named = LoopbackServer.Named();
        var logger = new RecordingLogger(LogLevel.Information);
        var balancer = new TcpLoadBalancer(
            new LoadBalancerOptions
            {
                Listen = ["127.0.0.1:0"],
                Backends = [new(refusing.ToString()), new(named.Address)],
                Strategy = Reactive.Balancing.Strategies.LoadBalancingStrategies.RoundRobin,
                HealthCheck = Balancers.NoHealthChecks,
                MaxConnectAttempts = 1,
            },
            logger: logger);
        using var events = new EventRecorder(balancer.Events);
        await balancer.StartAsync().WaitAsync(Loopback.Timeout);

        // The first connection goes to the refusing backend and, with one attempt, fails; the second is served.
        await Loopback.AskAsync(balancer.ListenEndPoints[0]).ContinueWith(_ => { });
        await Loopback.AskAsync(balancer.ListenEndPoints[0]);
        await events.WaitForAsync<ConnectionCompleted>();
        await balancer.DisposeAsync();

        Assert.Equal([1, 21, 2], logger.Entries.Select(e => e.Id));
        Assert.Equal([LogLevel.Information, LogLevel.Warning, LogLevel.Information], logger.Entries.Select(e => e.Level));
        Assert.Contains($"last on {refusing}", logger.Entries[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logging_AtDebug_WritesALinePerConnectionEvent()
    {
        await using var named = LoopbackServer.Named();
        var logger = new RecordingLogger(LogLevel.Debug);
        await using var balancer = new TcpLoadBalancer(
            new LoadBalancerOptions { Listen = ["127.0.0.1:0"], Backends = [new(named.Address)], HealthCheck = Balancers.NoHealthChecks },
            logger: logger);
        using var events = new EventRecorder(balancer.Events);
        await balancer.StartAsync().WaitAsync(Loopback.Timeout);

        await Loopback.AskAsync(balancer.ListenEndPoints[0]);
        await events.WaitForAsync<ConnectionCompleted>();

        Assert.Equal([30, 31, 34], logger.Entries.Where(e => e.Level == LogLevel.Debug).Select(e => e.Id));
    }

    [Fact]
    public async Task AccessLog_On_WritesOneInformationLinePerFinishedConnectionWithItsFields()
    {
        var (holder, refusing) = Loopback.RefusingEndPoint();
        using var _ = holder;
        await using var echo = LoopbackServer.Echo();
        var logger = new RecordingLogger(LogLevel.Information);
        var balancer = new TcpLoadBalancer(
            new LoadBalancerOptions
            {
                Listen = ["127.0.0.1:0"],
                Backends = [new(refusing.ToString()), new(echo.Address)],
                Strategy = Reactive.Balancing.Strategies.LoadBalancingStrategies.RoundRobin,
                HealthCheck = Balancers.NoHealthChecks,
                MaxConnectAttempts = 1,
                Clients = new ClientOptions { Deny = ["127.0.0.2/32"] },
                AccessLog = true,
            },
            logger: logger);
        using var events = new EventRecorder(balancer.Events);
        await balancer.StartAsync().WaitAsync(Loopback.Timeout);
        var listener = balancer.ListenEndPoints[0];

        // Round robin: the first goes to the refusing backend and fails, the second is echoed, the third is denied.
        await Loopback.AskAsync(listener).ContinueWith(_ => { });
        using (var client = await Loopback.ConnectAsync(listener))
        {
            await Loopback.SendAllAsync(client, "hello"u8.ToArray());
            client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            await Loopback.ReadToEndAsync(client);
        }

        await Loopback.AskAsync(listener, from: System.Net.IPAddress.Parse("127.0.0.2")).ContinueWith(_ => { });
        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        await events.WaitForAsync<ConnectionRejected>();
        await balancer.DisposeAsync();

        var lines = logger.Entries.Where(e => e.Id is 40 or 41 or 42).ToList();
        Assert.Equal([41, 40, 42], lines.Select(e => e.Id));
        Assert.All(lines, e => Assert.Equal(LogLevel.Information, e.Level));
        Assert.Matches($@"^127\.0\.0\.1:\d+ \[{listener}\] {refusing} failed after 1 attempt\(s\): ConnectionRefused$", lines[0].Message);
        Assert.Equal(
            $"{completed.Client} [{listener}] {echo.Address} {completed.ConnectTime.TotalMilliseconds:0.0}/{completed.Duration.TotalMilliseconds:0.0} ms 5/5 B ClientClosed",
            lines[1].Message);
        Assert.Matches(@"^127\.0\.0\.2:\d+ rejected: Denied$", lines[2].Message);
    }

    [Fact]
    public async Task AccessLog_Off_WritesNoLinePerConnection()
    {
        await using var echo = LoopbackServer.Echo();
        var logger = new RecordingLogger(LogLevel.Information);
        await using var balancer = new TcpLoadBalancer(
            new LoadBalancerOptions { Listen = ["127.0.0.1:0"], Backends = [new(echo.Address)], HealthCheck = Balancers.NoHealthChecks },
            logger: logger);
        using var events = new EventRecorder(balancer.Events);
        await balancer.StartAsync().WaitAsync(Loopback.Timeout);

        await Loopback.AskAsync(balancer.ListenEndPoints[0]);
        await events.WaitForAsync<ConnectionCompleted>();

        Assert.DoesNotContain(logger.Entries, e => e.Id is 40 or 41 or 42);
    }

    [Fact]
    public void Refusals_AreCountedAndLoggedOncePerReasonPerInterval_EachAtDebugOnly()
    {
        var scheduler = new TestScheduler();
        var logger = new RecordingLogger(LogLevel.Information);
        var log = new BalancerLog(logger, scheduler);
        var client = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 40000);

        for (var id = 1; id <= 500; id++)
        {
            log.Record(new ConnectionRejected(id, client, id % 5 == 0 ? RejectionReason.QueueTimeout : RejectionReason.Denied));
        }

        Assert.Empty(logger.Entries);
        scheduler.AdvanceBy(BalancerLog.RefusalInterval.Ticks);
        log.Record(new ConnectionRejected(501, client, RejectionReason.Denied));
        log.Record(new BalancerStopped(0, 0));

        Assert.Equal(
            [(26, "400 connection(s) refused in the last 00:00:10: Denied"), (26, "100 connection(s) refused in the last 00:00:10: QueueTimeout"),
             (26, "1 connection(s) refused in the last 00:00:10: Denied"), (2, "Balancer stopped: 0 connection(s) finished, 0 cut at the deadline")],
            logger.Entries.Select(e => (e.Id, e.Message)));
        Assert.All(logger.Entries.Where(e => e.Id == 26), e => Assert.Equal(LogLevel.Warning, e.Level));
    }

    private sealed class RecordingLogger(LogLevel minimum) : ILogger<TcpLoadBalancer>
    {
        private readonly List<(int Id, LogLevel Level, string Message)> _entries = [];

        public IReadOnlyList<(int Id, LogLevel Level, string Message)> Entries
        {
            get
            {
                lock (_entries)
                {
                    return [.. _entries];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                lock (_entries)
                {
                    _entries.Add((eventId.Id, logLevel, formatter(state, exception)));
                }
            }
        }
    }
}
