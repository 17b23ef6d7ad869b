using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using LoadBalancer.Reactive.Admin;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Admin;

/// <summary>
/// The runtime API as operators reach HAProxy's stats socket: commands piped into <c>socat</c>, over the Unix socket
/// and over loopback TCP. socat is installed when it is missing; without it these tests fail, never skip.
/// </summary>
[Trait(TestCategories.Name, TestCategories.Process)]
public sealed class RuntimeApiSocatTests : IAsyncLifetime
{
    private readonly LoopbackServer _a = LoopbackServer.Echo();
    private readonly LoopbackServer _b = LoopbackServer.Echo();
    private readonly string _directory = Directory.CreateTempSubdirectory("lb-socat-").FullName;
    private TcpLoadBalancer _balancer = null!;
    private RuntimeApi _api = null!;

    public async Task InitializeAsync()
    {
        _balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(_a.Address), new(_b.Address)],
            HealthCheck = Balancers.NoHealthChecks,
        });
        _api = new RuntimeApi(_balancer);
    }

    public async Task DisposeAsync()
    {
        await _balancer.DisposeAsync();
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Socat_OverTheUnixSocket_RunsSeveralCommands_EachReplyEndingWithAnEmptyLine()
    {
        using var events = new EventRecorder(_balancer.Events);
        var path = Path.Combine(_directory, "admin.sock");
        await using var listener = await RuntimeApiListener.StartAsync(_api, path);

        var output = await SocatAsync($"UNIX-CONNECT:{path}", $"show info\ndrain {_a.Address}\njson show backends\nquit\n");

        var replies = output.Split("\n\n");
        Assert.Equal(5, replies.Length);
        Assert.Contains("state: running", replies[0].Split('\n'));
        Assert.Equal($"ok: {_a.Address} draining", replies[1]);
        Assert.Equal("draining", (string?)JsonNode.Parse(replies[2])!["backends"]![0]!["state"]);
        Assert.Equal("bye", replies[3]);
        Assert.Equal("", replies[4]);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.DrainStarted && e.Backend == _a.Address);
    }

    [Fact]
    public async Task Socat_OverLoopbackTcp_WithAToken_AuthenticatesFirst()
    {
        await using var listener = await RuntimeApiListener.StartAsync(_api, "127.0.0.1:0", token: "t0ken");
        var port = ((IPEndPoint)listener.LocalEndPoint).Port;

        var output = await SocatAsync($"TCP:127.0.0.1:{port}", $"auth t0ken\nset weight {_b.Address} 4\nshow connections\n");

        Assert.Equal(["ok: authenticated", $"ok: {_b.Address} weight 4", $"open: 0\nactive: 0\nqueued: 0\nbackend {_a.Address}: 0\nbackend {_b.Address}: 0", ""],
            output.Split("\n\n"));
        await Loopback.WaitUntilAsync(() => _balancer.Snapshot.Backends[1].Weight == 4, "the weight is folded");
    }

    // Pipes the commands into socat (which half-closes when its input ends) and returns everything it printed.
    private static async Task<string> SocatAsync(string address, string commands)
    {
        await DebianPackages.EnsureAsync("socat", "socat");
        using var socat = Process.Start(new ProcessStartInfo("socat", ["-t", "5", "-", address])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("socat did not start");
        try
        {
            await socat.StandardInput.WriteAsync(commands);
            socat.StandardInput.Close();
            var output = socat.StandardOutput.ReadToEndAsync();
            var errors = socat.StandardError.ReadToEndAsync();
            await socat.WaitForExitAsync().WaitAsync(Loopback.Timeout);
            Assert.True(socat.ExitCode == 0, $"socat exited with {socat.ExitCode}: {await errors}");
            return await output.WaitAsync(Loopback.Timeout);
        }
        finally
        {
            if (!socat.HasExited)
            {
                socat.Kill();
            }
        }
    }
}
