using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Quickstart;

namespace LoadBalancer.Reactive.Tests.Quickstart;

[Trait(TestCategories.Name, TestCategories.Loopback)]
public class QuickstartAppTests
{
    [Fact]
    public async Task RunAsync_DemoMode_ThreeRequestsReachThreeBackends()
    {
        using var stop = new CancellationTokenSource();
        var output = new StringWriter();
        var started = new TaskCompletionSource<TcpLoadBalancer>();
        var running = QuickstartApp.RunAsync(
            ["--listen", "127.0.0.1:0"], TextWriter.Synchronized(output), TextWriter.Null, stop.Token,
            demoPorts: [0, 0, 0], started: started.SetResult);
        var balancer = await started.Task.WaitAsync(Loopback.Timeout);

        var answers = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            answers.Add(await GetAsync(balancer.ListenEndPoints[0]));
        }

        await stop.CancelAsync();
        Assert.Equal(QuickstartApp.ExitOk, await running.WaitAsync(Loopback.Timeout));
        Assert.All(answers, answer => Assert.StartsWith("HTTP/1.1 200 OK", answer, StringComparison.Ordinal));
        Assert.Equal(
            ["Hello from backend 1", "Hello from backend 2", "Hello from backend 3"],
            answers.Select(answer => answer[answer.IndexOf("Hello", StringComparison.Ordinal)..].Split(" (")[0]).Order());
        Assert.Contains("#3 completed on", output.ToString(), StringComparison.Ordinal);
        // The last request's relay may still be closing when the stop begins; it then counts as
        // finished during the drain. Nothing is ever cut here.
        Assert.Matches(@"stopped: [01] connection\(s\) finished, 0 cut at the deadline", output.ToString());
    }

    [Fact]
    public async Task RunAsync_AccessLog_PrintsALinePerFinishedConnection()
    {
        using var stop = new CancellationTokenSource();
        var output = new StringWriter();
        var started = new TaskCompletionSource<TcpLoadBalancer>();
        var running = QuickstartApp.RunAsync(
            ["--listen", "127.0.0.1:0", "--quiet", "--access-log"], TextWriter.Synchronized(output), TextWriter.Null, stop.Token,
            demoPorts: [0, 0, 0], started: started.SetResult);
        var balancer = await started.Task.WaitAsync(Loopback.Timeout);
        using var events = new EventRecorder(balancer.Events);

        await GetAsync(balancer.ListenEndPoints[0]);
        await GetAsync(balancer.ListenEndPoints[0]);
        await events.WaitForAsync<ConnectionCompleted>(2);
        await stop.CancelAsync();

        Assert.Equal(QuickstartApp.ExitOk, await running.WaitAsync(Loopback.Timeout));
        var access = output.ToString().Split('\n').Where(line => line.Contains("  access: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, access.Count);
        Assert.All(access, line => Assert.Matches(
            $@"access: 127\.0\.0\.1:\d+ \[{Regex.Escape(balancer.ListenEndPoints[0].ToString())}\] 127\.0\.0\.1:\d+ \d+\.\d/\d+\.\d ms \d+/\d+ B (ClientClosed|BackendClosed)",
            line));
    }

    [Fact]
    public async Task RunAsync_BadArguments_PrintsUsageAndExitsWithUsageCode()
    {
        var error = new StringWriter();

        var exit = await QuickstartApp.RunAsync(["--port", "80"], TextWriter.Null, error, CancellationToken.None)
            .WaitAsync(Loopback.Timeout);

        Assert.Equal(QuickstartApp.ExitUsage, exit);
        Assert.Contains("error: Unrecognized command or argument '--port'.", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("Usage:", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_InvalidBackend_ExitsWithTheValidationError()
    {
        var error = new StringWriter();

        var exit = await QuickstartApp.RunAsync(
            ["--listen", "127.0.0.1:0", "--backend", "127.0.0.1:99999"], TextWriter.Null, error, CancellationToken.None)
            .WaitAsync(Loopback.Timeout);

        Assert.Equal(QuickstartApp.ExitUsage, exit);
        Assert.Contains("Backends[0].Address '127.0.0.1:99999' has port 99999, outside 1-65535", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ZeroFall_IsAValidationErrorNamingTheField()
    {
        var error = new StringWriter();

        var exit = await QuickstartApp.RunAsync(
            ["--listen", "127.0.0.1:0", "--backend", "127.0.0.1:9", "--fall", "0"], TextWriter.Null, error, CancellationToken.None)
            .WaitAsync(Loopback.Timeout);

        Assert.Equal(QuickstartApp.ExitUsage, exit);
        Assert.Contains("HealthCheck.Fall must be at least 1, but is 0.", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void EventPrinter_HealthChanges_AreOneLineEach()
    {
        Assert.EndsWith("backend 10.0.0.1:80 is DOWN (health checks fail)", EventPrinter.Format(new Reactive.Events.BackendHealthChanged("10.0.0.1:80", false)), StringComparison.Ordinal);
        Assert.EndsWith("backend 10.0.0.1:80 is UP (health checks pass)", EventPrinter.Format(new Reactive.Events.BackendHealthChanged("10.0.0.1:80", true)), StringComparison.Ordinal);
        Assert.EndsWith(
            "backend 10.0.0.1:80 EJECTED for 30s after failures in a row (ejection #1)",
            EventPrinter.Format(new Reactive.Events.BackendEjected("10.0.0.1:80", TimeSpan.FromSeconds(30), 1)), StringComparison.Ordinal);
        Assert.EndsWith("backend 10.0.0.1:80 is back (its ejection ended)", EventPrinter.Format(new Reactive.Events.BackendEjectionEnded("10.0.0.1:80", false)), StringComparison.Ordinal);
        Assert.EndsWith(
            "backend 10.0.0.1:80 is draining: no new connections, 4 open",
            EventPrinter.Format(new Reactive.Events.BackendMembershipChanged("10.0.0.1:80", Reactive.Events.MembershipChangeKind.DrainStarted, 1, 4)),
            StringComparison.Ordinal);
        Assert.EndsWith(
            "backend 10.0.0.1:80 left",
            EventPrinter.Format(new Reactive.Events.BackendMembershipChanged("10.0.0.1:80", Reactive.Events.MembershipChangeKind.Left, 1, 0)),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ListenPortInUse_ExitsWithAClearError()
    {
        using var occupier = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        occupier.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        occupier.Listen();
        var error = new StringWriter();

        var exit = await QuickstartApp.RunAsync(
            ["--listen", occupier.LocalEndPoint!.ToString()!, "--backend", "127.0.0.1:9"], TextWriter.Null, error, CancellationToken.None)
            .WaitAsync(Loopback.Timeout);

        Assert.Equal(QuickstartApp.ExitFailed, exit);
        Assert.Contains($"Cannot listen on {occupier.LocalEndPoint}: the address is already in use.", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_TlsCertAndKey_TerminatesTlsInFrontOfTheDemoBackends()
    {
        using var pem = new Infrastructure.Tls.PemFiles();
        using var stop = new CancellationTokenSource();
        var started = new TaskCompletionSource<TcpLoadBalancer>();
        var running = QuickstartApp.RunAsync(
            ["--listen", "127.0.0.1:0", "--tls-cert", pem.CertificatePath, "--tls-key", pem.KeyPath, "--quiet"], TextWriter.Null, TextWriter.Null, stop.Token,
            demoPorts: [0], started: started.SetResult);
        var balancer = await started.Task.WaitAsync(Loopback.Timeout);

        using var socket = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await using var tls = await Infrastructure.Tls.HandshakeAsync(socket, "localhost", pem.Certificate);
        await tls.WriteAsync("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"u8.ToArray());
        using var reader = new StreamReader(tls);
        var answer = await reader.ReadToEndAsync().WaitAsync(Loopback.Timeout);

        await stop.CancelAsync();
        Assert.Equal(QuickstartApp.ExitOk, await running.WaitAsync(Loopback.Timeout));
        Assert.StartsWith("HTTP/1.1 200 OK", answer, StringComparison.Ordinal);
        Assert.Contains("Hello from backend 1", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ConfigFileNamesAMissingCertificate_ExitsWithAnErrorNamingTheSettingAndTheFiles()
    {
        // The configuration is read and validated first; its certificate files are read once, when the balancer is built.
        var path = Path.Combine(Path.GetTempPath(), $"lb-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, """{ "Backends": ["127.0.0.1:9"], "Tls": { "CertificatePath": "/nonexistent/server.pem", "KeyPath": "/nonexistent/server.key" } }""");
        var error = new StringWriter();
        try
        {
            var exit = await QuickstartApp.RunAsync(["--listen", "127.0.0.1:0", "--config", path], TextWriter.Null, error, CancellationToken.None)
                .WaitAsync(Loopback.Timeout);

            Assert.Equal(QuickstartApp.ExitUsage, exit);
            Assert.Contains(
                "error: Tls.CertificatePath '/nonexistent/server.pem' (key '/nonexistent/server.key') cannot be loaded:", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task RunAsync_MissingCertificate_ExitsWithAnErrorNamingTheFile()
    {
        var error = new StringWriter();

        var exit = await QuickstartApp.RunAsync(
            ["--listen", "127.0.0.1:0", "--backend", "127.0.0.1:9", "--tls-cert", "/nonexistent/server.pem"], TextWriter.Null, error, CancellationToken.None)
            .WaitAsync(Loopback.Timeout);

        Assert.Equal(QuickstartApp.ExitUsage, exit);
        Assert.Contains("error: Tls.CertificatePath '/nonexistent/server.pem' cannot be loaded:", error.ToString(), StringComparison.Ordinal);
    }

    private static async Task<string> GetAsync(IPEndPoint endPoint)
    {
        using var client = await Loopback.ConnectAsync(endPoint);
        await Loopback.SendAllAsync(client, "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"u8.ToArray());
        return Encoding.ASCII.GetString(await Loopback.ReadToEndAsync(client));
    }
}
