using System.Net.Sockets;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Admin;
using LoadBalancer.Reactive.Tests.Fleet;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Quickstart;

namespace LoadBalancer.Reactive.Tests.Quickstart;

/// <summary>
/// The Quickstart in a fleet (<c>--etcd</c>, <c>--etcd-prefix</c>, <c>--name</c>) against a real etcd: two instances take
/// their backends from etcd, and one drain through one instance's runtime API reaches both.
/// </summary>
[Trait(TestCategories.Name, TestCategories.Process)]
public sealed class QuickstartFleetTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lb-quickstart-fleet-").FullName;

    [Fact]
    public async Task TwoInstances_ServeTheFleetsBackends_AndADrainThroughOnesRuntimeApiReachesBoth()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        await FleetHarness.PutBackendAsync(etcd, a.Address);
        await FleetHarness.PutBackendAsync(etcd, b.Address);
        await using var c = LoopbackServer.Named();
        await FleetHarness.PutBackendAsync(etcd, c.Address, weight: 3, state: "disabled");
        await using var first = await Instance.StartAsync(etcd, "lb-1", Path.Combine(_directory, "lb-1.sock"));

        // The fleet's backends with their weights and states from the first connection, before the watch says anything.
        var stored = Assert.Single(first.Balancer.Options.Backends, backend => backend.Address == c.Address);
        Assert.Equal((3, Reactive.Configuration.BackendState.Disabled), (stored.Weight, stored.State));
        await using var second = await Instance.StartAsync(etcd, "lb-2", adminSocket: null);

        Assert.Equal(new[] { a.Address, b.Address, c.Address }.Order(), first.Balancer.Snapshot.Backends.Select(backend => backend.Address).Order());
        Assert.Contains("Fleet: joined /fleet at", first.Output, StringComparison.Ordinal);
        Assert.Contains("as lb-2; 2 live instance(s): lb-1, lb-2", second.Output, StringComparison.Ordinal);
        var instances = await first.AskAsync("show instances");
        Assert.Contains("2 live instance(s); this one is lb-1", instances, StringComparison.Ordinal);
        Assert.Contains("lb-2", instances, StringComparison.Ordinal);

        Assert.DoesNotContain("error", await first.AskAsync($"drain {a.Address}"), StringComparison.Ordinal);

        foreach (var instance in new[] { first, second })
        {
            await instance.Events.WaitForAsync<BackendMembershipChanged>(1, e => e.Backend == a.Address && e.Kind == MembershipChangeKind.DrainStarted);
            Assert.Equal(b.Address, await Loopback.AskAsync(instance.Balancer.ListenEndPoints[0]));
        }

        Assert.Contains("\"state\":\"drain\"", await etcd.GetAsync($"/fleet/backends/{a.Address}"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFleetWithNoBackendsStored_IsAClearErrorNamingThePrefix()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        var error = new StringWriter();

        var exit = await QuickstartApp.RunAsync(
            ["--listen", "127.0.0.1:0", "--etcd", etcd.Url, "--etcd-prefix", "/empty"], TextWriter.Null, error, CancellationToken.None,
            environment: new System.Collections.Hashtable()).WaitAsync(Loopback.Timeout);

        Assert.Equal(QuickstartApp.ExitFailed, exit);
        Assert.Contains("error: Etcd: no backend is stored under /empty/backends/", error.ToString(), StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>One Quickstart instance of the fleet, running in-process; stopped when disposed.</summary>
    private sealed class Instance : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly StringWriter _output = new();
        private Task<int> _running = Task.FromResult(0);
        private AdminClient? _admin;

        public TcpLoadBalancer Balancer { get; private set; } = null!;

        public EventRecorder Events { get; private set; } = null!;

        public string Output => _output.ToString();

        public static async Task<Instance> StartAsync(EtcdProcess etcd, string name, string? adminSocket)
        {
            var instance = new Instance();
            var started = new TaskCompletionSource<TcpLoadBalancer>();
            string[] admin = adminSocket is null ? [] : ["--admin", adminSocket];
            instance._running = QuickstartApp.RunAsync(
                ["--listen", "127.0.0.1:0", "--etcd", etcd.Url, "--etcd-prefix", FleetHarness.Prefix, "--name", name, "--no-health-checks", "--quiet", .. admin],
                TextWriter.Synchronized(instance._output), TextWriter.Null, instance._stop.Token,
                started: balancer =>
                {
                    instance.Events = new EventRecorder(balancer.Events);
                    started.SetResult(balancer);
                },
                environment: new System.Collections.Hashtable());
            instance.Balancer = await started.Task.WaitAsync(Loopback.Timeout);
            if (adminSocket is not null)
            {
                instance._admin = await AdminClient.ConnectAsync(new UnixDomainSocketEndPoint(adminSocket));
            }

            return instance;
        }

        // One command over the runtime API's socket: its reply's lines, joined.
        public async Task<string> AskAsync(string command) => string.Join('\n', await _admin!.AskAsync(command));

        public async ValueTask DisposeAsync()
        {
            _admin?.Dispose();
            await _stop.CancelAsync();
            Assert.Equal(QuickstartApp.ExitOk, await _running.WaitAsync(Loopback.Timeout));
            Events.Dispose();
            _stop.Dispose();
        }
    }
}
