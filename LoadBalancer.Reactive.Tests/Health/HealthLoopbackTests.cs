using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using LoadBalancer.Reactive.Balancing.Strategies;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Health;

/// <summary>Backends dying and coming back under real traffic on loopback.</summary>
[Collection(nameof(RealTimeCollection))]
[Trait(TestCategories.Name, TestCategories.Loopback)]
public class HealthLoopbackTests
{
    private static readonly HealthCheckOptions s_fastChecks = new()
    {
        Interval = TimeSpan.FromMilliseconds(300),

        // A refused probe fails at once, so the timeout does not bound detection; a generous one keeps
        // a healthy backend on a busy machine from being marked down.
        Timeout = TimeSpan.FromSeconds(2),
        Rise = 2,
        Fall = 3,
    };

    // Scheduling on a loaded 2-core machine: how late a probe timer may fire.
    private static readonly TimeSpan s_jitter = TimeSpan.FromMilliseconds(500);

    [Fact]
    public async Task BackendDiesMidRun_NoClientNotices_ItIsMarkedDownAndRejoinsWithinTheirIntervals()
    {
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        await using var c = LoopbackServer.Named();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new BackendOptions(a.Address), new BackendOptions(b.Address), new BackendOptions(c.Address)],
            Strategy = LoadBalancingStrategies.RoundRobin,
            HealthCheck = s_fastChecks,
        });
        using var events = new EventRecorder(balancer.Events);
        var answers = 0;
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();

        // Four clients, each opening one new connection after another for ten seconds.
        var load = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < TimeSpan.FromSeconds(10))
            {
                try
                {
                    var answer = await Loopback.AskAsync(balancer.ListenEndPoints[0]);
                    if (answer is "")
                    {
                        lock (failures)
                        {
                            failures.Add("empty answer");
                        }
                    }

                    Interlocked.Increment(ref answers);
                }
                catch (Exception exception) when (exception is SocketException or TimeoutException)
                {
                    lock (failures)
                    {
                        failures.Add(exception.Message);
                    }
                }
            }
        })).ToList();

        await Task.Delay(TimeSpan.FromSeconds(3));
        var killed = DateTimeOffset.UtcNow;
        await b.StopListeningAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        var restarted = DateTimeOffset.UtcNow;
        b.ResumeListening();
        await Task.WhenAll(load).WaitAsync(TimeSpan.FromSeconds(40));

        Assert.DoesNotContain(events.Events, e => e is ConnectionFailed or ConnectionRejected);
        Assert.Empty(failures);
        Assert.True(answers >= 2_000, $"only {answers} connections in 10 s");

        var down = Assert.Single(await events.WaitForAsync<BackendHealthChanged>(1, e => e.Backend == b.Address && !e.Healthy));
        var up = Assert.Single(await events.WaitForAsync<BackendHealthChanged>(1, e => e.Backend == b.Address && e.Healthy));
        Assert.InRange(down.Timestamp - killed, TimeSpan.Zero, (s_fastChecks.Interval * s_fastChecks.Fall) + s_jitter);
        Assert.InRange(up.Timestamp - restarted, TimeSpan.Zero, (s_fastChecks.Interval * s_fastChecks.Rise) + s_jitter);

        var toB = events.OfType<ConnectionAssigned>().Where(e => e.Backend == b.Address).ToList();
        Assert.DoesNotContain(toB, e => e.Timestamp > down.Timestamp && e.Timestamp < up.Timestamp);
        Assert.Contains(toB, e => e.Timestamp > up.Timestamp);

        // Between the kill and the verdict, connections that round robin sent to b were refused and
        // retried on a or c, invisibly to their clients.
        Assert.Contains(events.OfType<ConnectAttemptFailed>(), e => e.Backend == b.Address);
        Assert.Empty(events.OfType<ConnectionFailed>());
    }

    [Fact]
    public async Task FirstBackendDeadFromTheStart_NineOfNineConnectionsAreAnsweredByTheOthers()
    {
        await using var run = await DeadFirstAsync(new HealthCheckOptions());

        var answers = new List<string>();
        for (var i = 0; i < 9; i++)
        {
            answers.Add(await Loopback.AskAsync(run.Balancer.ListenEndPoints[0]));
        }

        // Round robin tries the dead backend first for some connections; each is refused and retried.
        Assert.All(answers, answer => Assert.Contains(answer, run.Alive));
        Assert.Contains(run.Events.OfType<ConnectAttemptFailed>(), e => e.Backend == run.Dead);
        Assert.Empty(run.Events.OfType<ConnectionFailed>());
    }

    [Fact]
    public async Task DeadBackendWithoutHealthChecks_IsEjectedAfterFiveFailures_AndLeftAlone()
    {
        await using var run = await DeadFirstAsync(Balancers.NoHealthChecks);

        for (var i = 0; i < 30; i++)
        {
            Assert.Contains(await Loopback.AskAsync(run.Balancer.ListenEndPoints[0]), run.Alive);
        }

        var ejected = Assert.Single(await run.Events.WaitForAsync<BackendEjected>());
        Assert.Equal((run.Dead, TimeSpan.FromSeconds(30), 1), (ejected.Backend, ejected.Duration, ejected.Ejections));
        Assert.Equal(5, run.Events.OfType<ConnectAttemptFailed>().Count());
        Assert.True(run.Balancer.Snapshot.Backends[0].Ejected);
    }

    [Fact]
    public async Task TlsBackendWhoseCertificateDoesNotValidate_IsMarkedDownAfterFallProbes_WhileATrustedOneStaysUp()
    {
        // Two identical TLS servers; only the trust differs, so a bare connect probe would call both healthy.
        using var certificate = Infrastructure.Tls.Certificate("api.example.com");
        await using var untrusted = Infrastructure.Tls.Server("untrusted", certificate);
        await using var trusted = Infrastructure.Tls.Server("trusted", certificate);
        var checks = s_fastChecks with { Interval = TimeSpan.FromMilliseconds(100) };
        var started = DateTimeOffset.UtcNow;
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends =
            [
                new(untrusted.Address) { Tls = new BackendTlsOptions { ServerName = "api.example.com" } }, // the system's roots do not know it
                new(trusted.Address) { Tls = new BackendTlsOptions { ServerName = "api.example.com", TrustedCertificates = [X509CertificateLoader.LoadCertificate(certificate.RawData)] } },
            ],
            HealthCheck = checks,
        });
        using var events = new EventRecorder(balancer.Events);

        var down = Assert.Single(await events.WaitForAsync<BackendHealthChanged>(1, e => e.Backend == untrusted.Address));
        Assert.False(down.Healthy);
        Assert.True(down.Timestamp - started >= checks.Interval * checks.Fall, $"marked down after {down.Timestamp - started}, before {checks.Fall} probes");

        // Three more intervals: the trusted backend's probes, handshakes included, keep passing.
        await Task.Delay(checks.Interval * checks.Fall);
        Assert.Equal([false, true], balancer.Snapshot.Backends.Select(backend => backend.Healthy));
        Assert.DoesNotContain(events.OfType<BackendHealthChanged>(), e => e.Backend == trusted.Address);
        Assert.Equal("trusted", await Loopback.AskAsync(balancer.ListenEndPoints[0]));
    }

    // A refusing backend first, then two that answer with their address, balanced round robin.
    private static async Task<DeadFirstRun> DeadFirstAsync(HealthCheckOptions healthCheck)
    {
        var (holder, dead) = Loopback.RefusingEndPoint();
        LoopbackServer[] alive = [LoopbackServer.Named(), LoopbackServer.Named()];
        var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new BackendOptions(dead.ToString()), .. alive.Select(b => new BackendOptions(b.Address))],
            Strategy = LoadBalancingStrategies.RoundRobin,
            HealthCheck = healthCheck,
        });
        return new DeadFirstRun(holder, dead.ToString(), alive, balancer, new EventRecorder(balancer.Events));
    }

    private sealed record DeadFirstRun(Socket Holder, string Dead, LoopbackServer[] Servers, TcpLoadBalancer Balancer, EventRecorder Events)
        : IAsyncDisposable
    {
        public string[] Alive => [.. Servers.Select(s => s.Address)];

        public async ValueTask DisposeAsync()
        {
            Events.Dispose();
            await Balancer.DisposeAsync();
            foreach (var server in Servers)
            {
                await server.DisposeAsync();
            }

            Holder.Dispose();
        }
    }
}
