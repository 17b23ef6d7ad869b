using System.Net;
using System.Net.Sockets;
using System.Reactive.Concurrency;
using System.Text;
using System.Text.Json.Nodes;
using LoadBalancer.Reactive.Admin;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Reactive.Testing;

namespace LoadBalancer.Reactive.Tests.Admin;

/// <summary>The runtime API's socket end to end: a real Unix socket and a real loopback TCP socket, as socat and nc reach them.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class RuntimeApiListenerTests : IAsyncLifetime
{
    private readonly LoopbackServer _a = LoopbackServer.Named();
    private readonly LoopbackServer _b = LoopbackServer.Named();
    private readonly string _directory = Directory.CreateTempSubdirectory("lb-admin-").FullName;
    private TcpLoadBalancer _balancer = null!;
    private RuntimeApi _api = null!;

    public async Task InitializeAsync()
    {
        _balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(_a.Address), new(_b.Address)],
            Strategy = "round-robin",
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
    public async Task UnixSocket_IsOwnerOnly_ServesSeveralCommandsPerConnection_AndIsRemovedOnDispose()
    {
        var path = Path.Combine(_directory, "admin.sock");
        await using (var listener = await RuntimeApiListener.StartAsync(_api, path))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(path));
            Assert.Equal(path, listener.LocalEndPoint.ToString());
            using var client = await AdminClient.ConnectAsync(listener.LocalEndPoint);

            Assert.Contains("state: running", await client.AskAsync("show info"));
            Assert.Equal(3, (await client.AskAsync("show backends")).Count);
            var json = JsonNode.Parse(Assert.Single(await client.AskAsync("json show connections")))!;
            Assert.Equal(0, (int)json["open"]!);
            Assert.StartsWith("open: ", (await client.AskAsync("show connections"))[0], StringComparison.Ordinal);
            Assert.Equal(["bye"], await client.AskAsync("quit"));
            Assert.True(await client.ClosedAsync());
        }

        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task TcpLoopback_FormatJson_AppliesToTheRestOfTheSession_AndBlankLinesGetNoReply()
    {
        await using var listener = await RuntimeApiListener.StartAsync(_api, "127.0.0.1:0");
        using var client = await AdminClient.ConnectAsync(listener.LocalEndPoint);

        Assert.Equal(["""{"ok":true,"message":"ok: format json"}"""], await client.AskAsync("format json"));
        await client.SendAsync("\n  \r\n"u8.ToArray());
        var info = JsonNode.Parse(Assert.Single(await client.AskAsync("show info")))!;
        Assert.Equal("running", (string?)info["state"]);
        Assert.Equal("""{"error":"unknown command 'nope'; try 'help'"}""", Assert.Single(await client.AskAsync("nope")));
        Assert.Equal(["ok: format text"], await client.AskAsync("format text"));
        Assert.Equal("error: unknown command 'nope'; try 'help'", Assert.Single(await client.AskAsync("nope")));
    }

    [Fact]
    public async Task DrainThroughTheSocket_IsAnEventOfTheBalancer_AndShowsInShowBackends_AndNewConnectionsAvoidIt()
    {
        using var events = new EventRecorder(_balancer.Events);
        await using var listener = await RuntimeApiListener.StartAsync(_api, Path.Combine(_directory, "drain.sock"));
        using var client = await AdminClient.ConnectAsync(listener.LocalEndPoint);

        Assert.Equal([$"ok: {_a.Address} draining"], await client.AskAsync($"drain {_a.Address}"));

        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.DrainStarted && e.Backend == _a.Address);
        var rows = await client.AskAsync("show backends");
        Assert.StartsWith($"{_a.Address}  ", rows[1], StringComparison.Ordinal);
        Assert.Equal("draining", rows[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(_b.Address, await Loopback.AskAsync(_balancer.ListenEndPoints[0]));
        }

        Assert.Equal([$"ok: {_a.Address} weight 3"], await client.AskAsync($"set weight {_a.Address} 3"));
        Assert.Equal([$"ok: {_a.Address} enabled"], await client.AskAsync($"enable {_a.Address}"));
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Enabled);
        Assert.Equal(3, _balancer.Snapshot.Backends[0].Weight);
        Assert.False(_balancer.Snapshot.Backends[0].Draining);
    }

    [Fact]
    public async Task Token_CommandsBeforeAuth_AreRefusedAndTheSessionCloses()
    {
        await using var listener = await RuntimeApiListener.StartAsync(_api, "127.0.0.1:0", token: "s3cret");
        using var client = await AdminClient.ConnectAsync(listener.LocalEndPoint);

        Assert.Equal(["error: authenticate first: auth TOKEN"], await client.AskAsync($"drain {_a.Address}"));

        Assert.True(await client.ClosedAsync());
        Assert.False(_balancer.Snapshot.Backends[0].Draining);
    }

    [Fact]
    public async Task Token_ABlankLineBeforeAuth_IsRefusedAndTheSessionCloses_SoItCannotHoldASlot()
    {
        await using var listener = await RuntimeApiListener.StartAsync(_api, "127.0.0.1:0", token: "s3cret");
        using var client = await AdminClient.ConnectAsync(listener.LocalEndPoint);

        Assert.Equal(["error: authenticate first: auth TOKEN"], await client.AskAsync(string.Empty));

        Assert.True(await client.ClosedAsync());
    }

    [Fact]
    public async Task Token_Wrong_IsRefusedAndTheSessionCloses_Right_IsAccepted()
    {
        await using var listener = await RuntimeApiListener.StartAsync(_api, Path.Combine(_directory, "token.sock"), token: "s3cret");
        using (var wrong = await AdminClient.ConnectAsync(listener.LocalEndPoint))
        {
            Assert.Equal(["error: token refused"], await wrong.AskAsync("auth s3cre"));
            Assert.True(await wrong.ClosedAsync());
        }

        using var right = await AdminClient.ConnectAsync(listener.LocalEndPoint);
        Assert.Equal(["error: 'auth' needs TOKEN; usage: auth TOKEN"], await right.AskAsync("auth"));
        Assert.Equal(["ok: authenticated"], await right.AskAsync("auth s3cret"));
        Assert.Contains("state: running", await right.AskAsync("show info"));
    }

    [Fact]
    public async Task NoToken_AuthIsHarmless()
    {
        await using var listener = await RuntimeApiListener.StartAsync(_api, "127.0.0.1:0");
        using var client = await AdminClient.ConnectAsync(listener.LocalEndPoint);

        Assert.Equal(["ok: no token needed here"], await client.AskAsync("auth anything"));
    }

    [Theory]
    [InlineData("0.0.0.0:0", "The runtime API endpoint '0.0.0.0:0' is not a loopback address")]
    [InlineData("10.1.2.3:9999", "The runtime API endpoint '10.1.2.3:9999' is not a loopback address")]
    [InlineData("[::]:9999", "The runtime API endpoint '[::]:9999' is not a loopback address")]
    [InlineData("admin.example:9999", "The runtime API endpoint 'admin.example:9999' is not an IP address and port")]
    [InlineData("127.0.0.1", "The runtime API endpoint '127.0.0.1' is not HOST:PORT; expected a Unix socket path (with a '/'")]
    [InlineData("admin.sock", "The runtime API endpoint 'admin.sock' is not HOST:PORT; expected a Unix socket path (with a '/'")]
    [InlineData("127.0.0.1:99999", "The runtime API endpoint '127.0.0.1:99999' has port 99999, outside 0-65535")]
    [InlineData("", "The runtime API endpoint is empty")]
    public async Task Endpoint_NonLoopbackWithoutToken_OrMalformed_IsRefusedNamingIt(string endpoint, string expected)
    {
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => RuntimeApiListener.StartAsync(_api, endpoint));

        Assert.StartsWith(expected, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Endpoint_NonLoopbackWithToken_IsAllowed_AndLocalhostMeansLoopback()
    {
        Assert.Equal(new IPEndPoint(IPAddress.Any, 9999), AdminEndPoint.Parse("0.0.0.0:9999", guardedByToken: true));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9999), AdminEndPoint.Parse("localhost:9999", guardedByToken: false));
        Assert.IsType<UnixDomainSocketEndPoint>(AdminEndPoint.Parse("./admin.sock", guardedByToken: false));
    }

    [Theory]
    [InlineData("")]
    [InlineData("two words")]
    public async Task Token_EmptyOrWithSpaces_IsRefused(string token)
    {
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => RuntimeApiListener.StartAsync(_api, "127.0.0.1:0", token));

        Assert.Contains("'127.0.0.1:0'", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HugeLine_EndsThatSession_GarbageIsAnError_AndTheBalancerAndOtherSessionsCarryOn()
    {
        await using var listener = await RuntimeApiListener.StartAsync(_api, "127.0.0.1:0");
        using var other = await AdminClient.ConnectAsync(listener.LocalEndPoint);
        using var garbage = await AdminClient.ConnectAsync(listener.LocalEndPoint);
        using var huge = await AdminClient.ConnectAsync(listener.LocalEndPoint);

        var noise = Loopback.RandomBytes(300, seed: 15).Select(b => b == (byte)'\n' ? (byte)'x' : b).Append((byte)'\n').ToArray();
        await garbage.SendAsync(noise);
        Assert.StartsWith("error: unknown command '", Assert.Single(await garbage.ReadReplyAsync()), StringComparison.Ordinal);
        Assert.Contains("state: running", await garbage.AskAsync("show info"));

        // A megabyte with no line end: the session answers once the bound is passed, and closes.
        var sending = huge.SendAsync(Enumerable.Repeat((byte)'a', 1 << 20).ToArray());
        Assert.Equal(["error: line longer than 4096 bytes; closing"], await huge.ReadReplyAsync());
        Assert.True(await huge.ClosedAsync());
        await IgnoreResetAsync(sending);

        Assert.Contains(await Loopback.AskAsync(_balancer.ListenEndPoints[0]), new[] { _a.Address, _b.Address });
        Assert.Contains("state: running", await other.AskAsync("show info"));
    }

    [Fact]
    public async Task ClientThatNeverReadsItsReplies_HoldsUpOnlyItsOwnSession()
    {
        await using var listener = await RuntimeApiListener.StartAsync(_api, "127.0.0.1:0");
        using var stuck = await AdminClient.ConnectAsync(listener.LocalEndPoint);
        using var other = await AdminClient.ConnectAsync(listener.LocalEndPoint);

        // Thousands of replies nobody reads fill the socket's buffers, and the session's writes wait; sending goes on
        // until the server stops reading, so it is not awaited.
        var flood = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("help\n", 20_000)));
        _ = stuck.SendAsync(flood).ContinueWith(_ => { }, TaskScheduler.Default);

        using var events = new EventRecorder(_balancer.Events);
        Assert.Equal([$"ok: {_a.Address} draining"], await other.AskAsync($"drain {_a.Address}"));
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.DrainStarted);
        Assert.Equal(_b.Address, await Loopback.AskAsync(_balancer.ListenEndPoints[0]));
    }

    [Fact]
    public async Task Clients_BeyondTheBound_AreToldAndClosed_WhileTheOthersAreServed()
    {
        var limits = RuntimeApiListenerLimits.Default with { MaxClients = 2 };
        await using var listener = await RuntimeApiListener.StartAsync(_api, "127.0.0.1:0", null, NullLogger.Instance, limits, CancellationToken.None);
        using var first = await AdminClient.ConnectAsync(listener.LocalEndPoint);
        using var second = await AdminClient.ConnectAsync(listener.LocalEndPoint);
        Assert.Equal(["bye"], await second.AskAsync("quit"));
        Assert.True(await second.ClosedAsync());
        using var third = await AdminClient.ConnectAsync(listener.LocalEndPoint);
        Assert.Contains("state: running", await third.AskAsync("show info"));

        using var fourth = await AdminClient.ConnectAsync(listener.LocalEndPoint);

        Assert.Equal(["error: too many runtime API clients (2 at most); try again later"], await fourth.ReadReplyAsync());
        Assert.True(await fourth.ClosedAsync());
        Assert.Contains("state: running", await first.AskAsync("show info"));
    }

    [Fact]
    public async Task Session_SilentPastTheIdleTimeout_IsClosed_InVirtualTime()
    {
        var scheduler = new CountingScheduler(new TestScheduler());
        var limits = RuntimeApiListenerLimits.Default with { IdleTimeout = TimeSpan.FromMinutes(5), Scheduler = scheduler };
        await using var listener = await RuntimeApiListener.StartAsync(_api, "127.0.0.1:0", null, NullLogger.Instance, limits, CancellationToken.None);
        using var client = await AdminClient.ConnectAsync(listener.LocalEndPoint);

        // The session arms its deadline before each line it waits for: once before the first, once after each reply.
        Assert.Contains("state: running", await client.AskAsync("show info"));
        await Loopback.WaitUntilAsync(() => scheduler.Scheduled == 2, "the session waits for its second line");
        scheduler.AdvanceBy(TimeSpan.FromMinutes(4));
        Assert.Contains("state: running", await client.AskAsync("show info"));
        await Loopback.WaitUntilAsync(() => scheduler.Scheduled == 3, "the session waits for its third line");
        scheduler.AdvanceBy(TimeSpan.FromMinutes(5) - TimeSpan.FromTicks(1));
        Assert.Contains("state: running", await client.AskAsync("show info"));
        await Loopback.WaitUntilAsync(() => scheduler.Scheduled == 4, "the session waits for its fourth line");

        scheduler.AdvanceBy(TimeSpan.FromMinutes(5));

        Assert.True(await client.ClosedAsync());
    }

    [Fact]
    public async Task UnixSocket_StaleFileIsReplaced_ALiveOneOrARegularFileIsNot()
    {
        var path = Path.Combine(_directory, "stale.sock");
        // Bound and never listening, as a crashed process leaves its socket file (kept open: .NET unlinks what it bound on dispose).
        using var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        dead.Bind(new UnixDomainSocketEndPoint(path));
        Assert.True(File.Exists(path));
        await using (var listener = await RuntimeApiListener.StartAsync(_api, path))
        {
            var inUse = await Assert.ThrowsAsync<IOException>(() => RuntimeApiListener.StartAsync(_api, path));
            Assert.Equal($"The runtime API cannot listen on '{path}': another process is listening there.", inUse.Message);
        }

        var file = Path.Combine(_directory, "notes.txt");
        await File.WriteAllTextAsync(file, "keep me");
        var notASocket = await Assert.ThrowsAsync<IOException>(() => RuntimeApiListener.StartAsync(_api, file));
        Assert.Equal($"The runtime API cannot listen on '{file}': a file that is not a socket is there.", notASocket.Message);
        Assert.Equal("keep me", await File.ReadAllTextAsync(file));

        var missing = await Assert.ThrowsAsync<IOException>(() => RuntimeApiListener.StartAsync(_api, Path.Combine(_directory, "no", "such", "dir.sock")));
        Assert.StartsWith($"The runtime API cannot listen on '{Path.Combine(_directory, "no", "such", "dir.sock")}': ", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dispose_EndsOpenSessions()
    {
        var listener = await RuntimeApiListener.StartAsync(_api, "127.0.0.1:0");
        using var client = await AdminClient.ConnectAsync(listener.LocalEndPoint);
        Assert.Contains("state: running", await client.AskAsync("show info"));

        await listener.DisposeAsync().AsTask().WaitAsync(Loopback.Timeout);

        Assert.True(await client.ClosedAsync());
    }

    // The server may close while the rest of a megabyte is still on its way: the client's send then ends with a reset.
    private static async Task IgnoreResetAsync(Task sending)
    {
        try
        {
            await sending;
        }
        catch (SocketException)
        {
        }
    }

    /// <summary>
    /// A <see cref="TestScheduler"/> that sessions may schedule on from their own threads while the test advances it
    /// (one lock around both), counting what was scheduled so the test knows when a session has armed its deadline.
    /// </summary>
    private sealed class CountingScheduler(TestScheduler inner) : IScheduler
    {
        private readonly Lock _gate = new();
        private int _scheduled;

        public int Scheduled => Volatile.Read(ref _scheduled);

        public DateTimeOffset Now
        {
            get
            {
                lock (_gate)
                {
                    return inner.Now;
                }
            }
        }

        public void AdvanceBy(TimeSpan time)
        {
            lock (_gate)
            {
                inner.AdvanceBy(time.Ticks);
            }
        }

        public IDisposable Schedule<TState>(TState state, Func<IScheduler, TState, IDisposable> action) =>
            Locked(() => inner.Schedule(state, action));

        public IDisposable Schedule<TState>(TState state, TimeSpan dueTime, Func<IScheduler, TState, IDisposable> action) =>
            Locked(() => inner.Schedule(state, dueTime, action));

        public IDisposable Schedule<TState>(TState state, DateTimeOffset dueTime, Func<IScheduler, TState, IDisposable> action) =>
            Locked(() => inner.Schedule(state, dueTime, action));

        private IDisposable Locked(Func<IDisposable> schedule)
        {
            IDisposable scheduled;
            lock (_gate)
            {
                scheduled = schedule();
                Interlocked.Increment(ref _scheduled);
            }

            return System.Reactive.Disposables.Disposable.Create(() =>
            {
                lock (_gate)
                {
                    scheduled.Dispose();
                }
            });
        }
    }
}
