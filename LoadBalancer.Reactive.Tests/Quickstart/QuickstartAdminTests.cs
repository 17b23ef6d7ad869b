using System.Net.Sockets;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Admin;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Quickstart;

namespace LoadBalancer.Reactive.Tests.Quickstart;

/// <summary>The Quickstart's <c>--admin</c>: the runtime API on a Unix socket, used as socat would use it.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class QuickstartAdminTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lb-quickstart-admin-").FullName;

    [Fact]
    public async Task Admin_OnAUnixSocket_ShowsTheBackends_AndADrainThroughItIsAnEvent()
    {
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        var socketPath = Path.Combine(_directory, "admin.sock");
        using var stop = new CancellationTokenSource();
        var output = new StringWriter();
        var started = new TaskCompletionSource<TcpLoadBalancer>();
        var running = QuickstartApp.RunAsync(
            ["--listen", "127.0.0.1:0", "--backend", a.Address, "--backend", b.Address, "--no-health-checks", "--quiet", "--admin", socketPath],
            TextWriter.Synchronized(output), TextWriter.Null, stop.Token, started: started.SetResult, environment: new System.Collections.Hashtable());
        var balancer = await started.Task.WaitAsync(Loopback.Timeout);
        using var events = new EventRecorder(balancer.Events);

        using var admin = await AdminClient.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        var backends = string.Join('\n', await admin.AskAsync("show backends"));
        var drained = string.Join('\n', await admin.AskAsync($"drain {a.Address}"));

        Assert.Contains(a.Address, backends, StringComparison.Ordinal);
        Assert.Contains(b.Address, backends, StringComparison.Ordinal);
        Assert.DoesNotContain("error", drained, StringComparison.Ordinal);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Backend == a.Address && e.Kind == MembershipChangeKind.DrainStarted);
        Assert.Equal(b.Address, await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        Assert.Contains($"Runtime API on {socketPath}", output.ToString(), StringComparison.Ordinal);

        await stop.CancelAsync();
        Assert.Equal(QuickstartApp.ExitOk, await running.WaitAsync(Loopback.Timeout));
        Assert.False(File.Exists(socketPath));
    }

    [Fact]
    public async Task Admin_OnANonLoopbackAddressWithoutAToken_IsRefusedNamingTheSetting()
    {
        var error = new StringWriter();

        var exit = await QuickstartApp.RunAsync(
            ["--listen", "127.0.0.1:0", "--backend", "127.0.0.1:9", "--admin", "0.0.0.0:0"], TextWriter.Null, error, CancellationToken.None,
            environment: new System.Collections.Hashtable()).WaitAsync(Loopback.Timeout);

        Assert.Equal(QuickstartApp.ExitUsage, exit);
        Assert.StartsWith("error: Admin: ", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("0.0.0.0:0", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AdminSettings_ComeFromTheConfiguration_AndUnknownOnesAreErrors()
    {
        var path = Path.Combine(_directory, "balancer.json");
        File.WriteAllText(path, """{ "Backends": ["127.0.0.1:9"], "Admin": { "Endpoint": "127.0.0.1:9999", "Tokn": "x" } }""");
        var (settings, _) = QuickstartArguments.Parse(["--config", path]);

        var reading = QuickstartConfiguration.Build(settings!, new System.Collections.Hashtable()).Read();
        var withToken = QuickstartConfiguration.Build(
            QuickstartArguments.Parse(["--backend", "127.0.0.1:9", "--admin", "/run/lb.sock"]).Settings!,
            new System.Collections.Hashtable { ["LB_Admin__Token"] = "s3cret" }).Read();

        Assert.Equal(["Admin:Tokn is not a setting; the runtime API's settings are Endpoint, Token."], reading.Errors);
        Assert.Equal(("/run/lb.sock", "s3cret"), (withToken.AdminEndpoint, withToken.AdminToken));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
