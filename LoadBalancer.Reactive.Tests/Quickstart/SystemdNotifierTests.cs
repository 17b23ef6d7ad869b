using System.Collections;
using System.Net.Sockets;
using System.Text;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Quickstart;

namespace LoadBalancer.Reactive.Tests.Quickstart;

/// <summary>sd_notify under systemd (Type=notify): READY=1 once listening, STOPPING=1 when stopping, over a real datagram socket.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class SystemdNotifierTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lb-notify-").FullName;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RunAsync_WithNotifySocket_SendsReadyOnceListening_AndStoppingWhenStopping(bool abstractName)
    {
        await using var backend = LoopbackServer.Named();
        var name = abstractName ? $"@lb-notify-{Guid.NewGuid():N}" : Path.Combine(_directory, "notify");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(abstractName ? "\0" + name[1..] : name));
        using var stop = new CancellationTokenSource();
        var started = new TaskCompletionSource<TcpLoadBalancer>();

        var running = QuickstartApp.RunAsync(
            ["--listen", "127.0.0.1:0", "--backend", backend.Address, "--quiet"], TextWriter.Null, TextWriter.Null, stop.Token,
            started: started.SetResult, environment: new Hashtable { [SystemdNotifier.Variable] = name });
        var balancer = await started.Task.WaitAsync(Loopback.Timeout);
        var ready = await ReceiveAsync(systemd);
        await stop.CancelAsync();
        var stopping = await ReceiveAsync(systemd);

        Assert.Equal(QuickstartApp.ExitOk, await running.WaitAsync(Loopback.Timeout));
        Assert.Equal(["READY=1", $"STATUS=Balancing {balancer.ListenEndPoints[0]} over 1 backend(s) with least-connections."], ready.Split('\n'));
        Assert.Equal("STOPPING=1", stopping.Split('\n')[0]);
        Assert.StartsWith("STATUS=Stopping", stopping.Split('\n')[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Create_WithoutNotifySocket_SendsNothing()
    {
        using var notifier = SystemdNotifier.Create(null, TextWriter.Null);

        notifier.Ready("up");
        notifier.Stopping("down");
    }

    [Fact]
    public void Send_ToASocketNobodyBinds_WarnsOnceAndCarriesOn()
    {
        var error = new StringWriter();
        using var notifier = SystemdNotifier.Create(Path.Combine(_directory, "absent"), error);

        notifier.Ready("up");
        notifier.Stopping("down");

        Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("warning: cannot notify systemd at NOTIFY_SOCKET=", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void UnitFile_IsTypeNotify_ReloadsOnHup_AndIsHardened()
    {
        var unit = File.ReadAllLines(Path.Combine(ReadmeTests.RepositoryRoot(), "examples", "Quickstart", "loadbalancer.service"));

        Assert.Contains("Type=notify", unit);
        Assert.Contains("ExecReload=/bin/kill -HUP $MAINPID", unit);
        Assert.Contains(unit, line => line.StartsWith("ExecStartPre=", StringComparison.Ordinal) && line.Contains(" --check ", StringComparison.Ordinal));
        Assert.Contains("DynamicUser=yes", unit);
        Assert.Contains("NoNewPrivileges=yes", unit);
        Assert.Contains("ProtectSystem=strict", unit);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[4096];
        var read = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(Loopback.Timeout);
        return Encoding.UTF8.GetString(buffer, 0, read);
    }
}
