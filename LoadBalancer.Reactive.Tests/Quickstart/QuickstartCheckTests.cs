using System.Collections;
using System.Net;
using System.Net.Sockets;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Quickstart;

namespace LoadBalancer.Reactive.Tests.Quickstart;

/// <summary>--check (validate only, like haproxy -c) and settings from LB_ environment variables.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class QuickstartCheckTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lb-check-").FullName;

    [Fact]
    public async Task Check_ValidConfiguration_ExitsZero_AndBindsNothing()
    {
        // A port known free now: were --check to listen, the connect below would be answered.
        var port = FreePort();
        var path = Write($$"""{ "Listen": ["127.0.0.1:{{port}}"], "Backends": ["127.0.0.1:9", { "Address": "127.0.0.1:10", "State": "Disabled" }] }""");
        var output = new StringWriter();

        var exit = await QuickstartApp.RunAsync(["--config", path, "--check"], output, TextWriter.Null, CancellationToken.None, environment: new Hashtable())
            .WaitAsync(Loopback.Timeout);

        Assert.Equal(QuickstartApp.ExitOk, exit);
        Assert.Contains("Configuration is valid: 1 listener(s), 2 backend(s)", output.ToString(), StringComparison.Ordinal);
        await Assert.ThrowsAsync<SocketException>(() => Loopback.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)));
    }

    [Fact]
    public async Task Check_NoBackends_ValidatesTheDemoSetUp_WithoutStartingIt()
    {
        var output = new StringWriter();

        var exit = await QuickstartApp.RunAsync(["--check"], output, TextWriter.Null, CancellationToken.None, environment: new Hashtable())
            .WaitAsync(Loopback.Timeout);

        Assert.Equal(QuickstartApp.ExitOk, exit);
        Assert.DoesNotContain("Started", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("3 backend(s)", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_InvalidConfiguration_PrintsEveryProblem_AndExitsTwo()
    {
        var path = Write("""
            { "Backends": [ "127.0.0.1:99999", { "Address": "127.0.0.1:80", "Wieght": 2 } ], "HealthCheck": { "Interval": "2" }, "seed": 3 }
            """);
        var error = new StringWriter();

        var exit = await QuickstartApp.RunAsync(["--config", path, "--check"], TextWriter.Null, error, CancellationToken.None, environment: new Hashtable())
            .WaitAsync(Loopback.Timeout);

        Assert.Equal(QuickstartApp.ExitUsage, exit);
        var problems = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, problems.Length);
        Assert.Contains(problems, line => line.StartsWith("error: Backends:1:Wieght is not a setting", StringComparison.Ordinal));
        Assert.Contains(problems, line => line.StartsWith("error: HealthCheck:Interval '2' has no unit", StringComparison.Ordinal));
        Assert.Contains(problems, line => line.StartsWith("error: seed is not a setting; the balancer settings are", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_CertificateThatDoesNotLoad_IsAProblem()
    {
        var error = new StringWriter();

        var exit = await QuickstartApp.RunAsync(
            ["--check", "--backend", "127.0.0.1:9", "--tls-cert", "/nonexistent/server.pem"], TextWriter.Null, error, CancellationToken.None,
            environment: new Hashtable()).WaitAsync(Loopback.Timeout);

        Assert.Equal(QuickstartApp.ExitUsage, exit);
        Assert.Contains("error: Tls.CertificatePath '/nonexistent/server.pem' cannot be loaded:", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_BackendsFromEnvironmentVariables_AreBalanced()
    {
        await using var backend = LoopbackServer.Named();
        using var stop = new CancellationTokenSource();
        var started = new TaskCompletionSource<TcpLoadBalancer>();
        var environment = new Hashtable
        {
            ["LB_Listen__0"] = "127.0.0.1:0",
            ["LB_Backends__0__Address"] = backend.Address,
            ["LB_HealthCheck__Enabled"] = "false",
        };

        var running = QuickstartApp.RunAsync([], TextWriter.Null, TextWriter.Null, stop.Token, started: started.SetResult, environment: environment);
        var balancer = await started.Task.WaitAsync(Loopback.Timeout);

        Assert.Equal(backend.Address, await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        await stop.CancelAsync();
        Assert.Equal(QuickstartApp.ExitOk, await running.WaitAsync(Loopback.Timeout));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private string Write(string json)
    {
        var path = Path.Combine(_directory, "lb.json");
        File.WriteAllText(path, json);
        return path;
    }
}
