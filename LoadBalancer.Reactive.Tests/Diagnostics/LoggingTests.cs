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
