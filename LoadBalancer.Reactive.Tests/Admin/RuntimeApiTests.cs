using System.Text.Json.Nodes;
using LoadBalancer.Reactive.Admin;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Admin;

/// <summary>The runtime API's command set against a running loopback balancer: parsing, every command, the JSON shapes, the errors.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class RuntimeApiTests : IAsyncLifetime
{
    private readonly LoopbackServer _a = LoopbackServer.Holding();
    private readonly LoopbackServer _b = LoopbackServer.Holding();
    private TcpLoadBalancer _balancer = null!;
    private RuntimeApi _api = null!;

    public async Task InitializeAsync()
    {
        _balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Name = "edge",
            Backends = [new(_a.Address), new(_b.Address, weight: 2)],
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
    }

    [Fact]
    public async Task Help_ListsEveryCommandWithItsUsage()
    {
        var reply = await _api.ExecuteAsync("help");

        Assert.True(reply.Succeeded);
        foreach (var usage in new[]
        {
            "help", "show info", "show backends", "show connections", "drain ADDR", "disable ADDR", "enable ADDR", "set weight ADDR N",
            "add backend ADDR [weight N] [pool P]", "remove backend ADDR [close-after DURATION]", "format text|json", "quit",
        })
        {
            Assert.Contains(reply.Text.Split('\n'), line => line.StartsWith(usage + "  ", StringComparison.Ordinal));
        }

        Assert.Equal(12, reply.Data!["commands"]!.AsArray().Count);
        Assert.DoesNotContain("\n\n", reply.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShowInfo_Text_NamesTheBalancerItsListenerStrategyStateAndTotals()
    {
        var lines = (await _api.ExecuteAsync("show info")).Text.Split('\n');

        Assert.Contains("name: edge", lines);
        Assert.Contains("state: running", lines);
        Assert.Contains($"listen: {_balancer.ListenEndPoints[0]}", lines);
        Assert.Contains("strategy: round-robin", lines);
        Assert.Contains("panic-mode: off", lines);
        Assert.Contains("accepted: 0", lines);
        Assert.Contains("backends: 2", lines);
        Assert.Contains(lines, line => line.StartsWith("version: ", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("uptime: ", StringComparison.Ordinal) && line.EndsWith('s'));
        Assert.Contains(lines, line => line.StartsWith("started: ", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("memory-resident: ", StringComparison.Ordinal) && line.EndsWith(" MiB", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("gc-collections: gen0 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ShowInfo_Json_HasEveryField()
    {
        GC.Collect(); // the GC's figures are those of its last collection: there is one
        var info = (await _api.ExecuteAsync("SHOW INFO")).Data!.AsObject();

        Assert.Equal(
            ["name", "version", "state", "uptimeSeconds", "started", "listen", "strategy", "panicMode", "accepted", "rejected", "failed", "active",
             "queued", "queuedTotal", "backends", "backendsUp", "memoryResidentBytes", "gcHeapBytes", "gcCommittedBytes", "gcCollections"],
            info.Select(field => field.Key));
        Assert.Equal("edge", (string?)info["name"]);
        Assert.Equal("running", (string?)info["state"]);
        Assert.Equal(_balancer.ListenEndPoints[0].ToString(), (string?)info["listen"]![0]);
        Assert.Equal(2, (int)info["backendsUp"]!);
        Assert.True((double)info["uptimeSeconds"]! >= 0);

        // This process's own figures: the heap its last collection left lies within what the GC had committed.
        Assert.InRange((long)info["gcHeapBytes"]!, 1, (long)info["gcCommittedBytes"]!);
        Assert.True((long)info["memoryResidentBytes"]! > 0);
        Assert.All(info["gcCollections"]!.AsArray(), count => Assert.True((int)count! >= 0));
        Assert.True((int)info["gcCollections"]![2]! >= 1);
    }

    [Fact]
    public async Task ShowBackends_TextAndJson_ShowEachBackendsStateWeightAndCounts()
    {
        var reply = await _api.ExecuteAsync(["show", "backends"]);

        var lines = reply.Text.Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Equal(
            ["address", "state", "weight", "pool", "active", "total", "failures", "from-client", "from-backend", "last-change"],
            lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal([_b.Address, "up", "2", "-", "0", "0", "0", "0", "0", "-"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var rows = reply.Data!["backends"]!.AsArray();
        Assert.Equal(
            ["address", "state", "weight", "pool", "active", "total", "completed", "failures", "ejections", "healthy", "bytesFromClient",
             "bytesFromBackend", "lastChange", "lastChangeReason"],
            rows[0]!.AsObject().Select(field => field.Key));
        Assert.Equal((_a.Address, "up", 1), ((string?)rows[0]!["address"], (string?)rows[0]!["state"], (int)rows[0]!["weight"]!));
    }

    [Fact]
    public async Task ShowConnections_CountsOpenAndActivePerBackend()
    {
        using var events = new EventRecorder(_balancer.Events);
        using var client = await Loopback.ConnectAsync(_balancer.ListenEndPoints[0]);
        await events.WaitForAsync<BackendConnected>();

        var reply = await _api.ExecuteAsync("show connections");

        Assert.Equal(["open: 1", "active: 1", "queued: 0", $"backend {_a.Address}: 1", $"backend {_b.Address}: 0"], reply.Text.Split('\n'));
        Assert.Equal(
            """{"open":1,"active":1,"queued":0,"backends":[{"address":"A","active":1},{"address":"B","active":0}]}""".Replace("A", _a.Address).Replace("B", _b.Address),
            reply.Render(RuntimeFormat.Json));
    }

    [Theory]
    [InlineData("drain", MembershipChangeKind.DrainStarted, "draining")]
    [InlineData("disable", MembershipChangeKind.Disabled, "disabled")]
    public async Task DrainAndDisable_AreEventsOfTheFold_AndShowInShowBackends_UntilEnabled(string command, MembershipChangeKind kind, string state)
    {
        using var events = new EventRecorder(_balancer.Events);

        var reply = await _api.ExecuteAsync($"{command} {_a.Address}");

        Assert.Equal($"ok: {_a.Address} {state}", reply.Text);
        Assert.Equal(
            $$"""{"ok":true,"message":"ok: {{_a.Address}} {{state}}","command":"{{command}}","backend":"{{_a.Address}}"}""",
            reply.Render(RuntimeFormat.Json));
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == kind && e.Backend == _a.Address);
        Assert.Equal(state, StateOf(await _api.ExecuteAsync("show backends"), _a.Address));

        Assert.True((await _api.ExecuteAsync($"enable {_a.Address}")).Succeeded);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Enabled);
        Assert.Equal("up", StateOf(await _api.ExecuteAsync("show backends"), _a.Address));
    }

    [Fact]
    public async Task SetWeight_ReweightsTheBackend()
    {
        using var events = new EventRecorder(_balancer.Events);

        var reply = await _api.ExecuteAsync($"set weight {_b.Address} 7");

        Assert.Equal($"ok: {_b.Address} weight 7", reply.Text);
        Assert.Equal(7, (int)reply.Data!["weight"]!);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Reweighted && e.Weight == 7);
        Assert.Equal(7, _balancer.Snapshot.Backends[1].Weight);
    }

    [Fact]
    public async Task AddBackend_WithWeightAndPool_Joins_ThenRemoveBackend_DrainsItAndItLeaves()
    {
        await using var c = LoopbackServer.Holding();
        using var events = new EventRecorder(_balancer.Events);

        var added = await _api.ExecuteAsync($"add backend {c.Address} weight 3 pool blue");

        Assert.Equal($"ok: {c.Address} added with weight 3 in pool blue", added.Text);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Joined && e.Backend == c.Address);
        var row = Assert.Single(_balancer.Snapshot.Backends, backend => backend.Address == c.Address);
        Assert.Equal((3, "blue"), (row.Weight, row.Pool));

        var removed = await _api.ExecuteAsync($"remove backend {c.Address} close-after 30s");

        Assert.Equal($"ok: {c.Address} removing: drained first, what is open after 30s is closed", removed.Text);
        Assert.Equal(30.0, (double)removed.Data!["closeAfterSeconds"]!);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Left && e.Backend == c.Address);
        Assert.DoesNotContain(_balancer.Snapshot.Backends, backend => backend.Address == c.Address);
    }

    [Theory]
    [InlineData("", "error: no command given; try 'help'")]
    [InlineData("bogus", "error: unknown command 'bogus'; try 'help'")]
    [InlineData("show", "error: 'show' needs one of: info, backends, connections")]
    [InlineData("show everything", "error: unknown command 'show everything'; 'show' takes one of: info, backends, connections")]
    [InlineData("show info now", "error: 'show info' takes no arguments; unexpected 'now'")]
    [InlineData("drain", "error: 'drain' needs ADDR; usage: drain ADDR")]
    [InlineData("enable A B", "error: 'enable' takes one argument; unexpected 'B'")]
    [InlineData("disable 10.9.9.9:1", "error: No backend '10.9.9.9:1' is a member")]
    [InlineData("set weight", "error: 'set weight' needs ADDR; usage: set weight ADDR N")]
    [InlineData("set weight A", "error: 'set weight' needs N; usage: set weight ADDR N")]
    [InlineData("set weight A heavy", "error: weight 'heavy' is not a whole number from 0 to 10000")]
    [InlineData("set weight A -1", "error: weight '-1' is not a whole number from 0 to 10000")]
    [InlineData("set weight A 10001", "error: weight '10001' is not a whole number from 0 to 10000")]
    [InlineData("set weight 10.9.9.9:1 5", "error: No backend '10.9.9.9:1' is a member")]
    [InlineData("add backend", "error: 'add backend' needs ADDR; usage: add backend ADDR [weight N] [pool P]")]
    [InlineData("add backend nowhere", "error: Backend[0].Address 'nowhere' is not HOST:PORT.")]
    [InlineData("add backend 10.9.9.9:1 weight", "error: 'weight' needs a value; usage: add backend ADDR [weight N] [pool P]")]
    [InlineData("add backend 10.9.9.9:1 colour red", "error: 'add backend' takes 'weight N' and 'pool P' after ADDR; unexpected 'colour'")]
    [InlineData("add backend 10.9.9.9:1 weight 2 weight 3", "error: 'weight' is given twice")]
    [InlineData("add backend A", "error: Backend 'A' is already a member.")]
    [InlineData("remove backend", "error: 'remove backend' needs ADDR; usage: remove backend ADDR [close-after DURATION]")]
    [InlineData("remove backend A close-after", "error: 'close-after' needs a duration, such as 30s")]
    [InlineData("remove backend A soon", "error: 'remove backend' takes ADDR [close-after DURATION]; unexpected 'soon'")]
    [InlineData("remove backend A after 5s", "error: 'remove backend' takes 'close-after DURATION' after ADDR; unexpected 'after'")]
    [InlineData("remove backend A close-after soon", "error: close-after 'soon' ")]
    [InlineData("format yaml", "error: format 'yaml' is neither text nor json")]
    public async Task BadInput_IsAnErrorNamingTheArgument_AndChangesNothing(string line, string expected)
    {
        var before = _balancer.Snapshot;

        var reply = await _api.ExecuteAsync(line.Replace(" A", " " + _a.Address, StringComparison.Ordinal));

        Assert.False(reply.Succeeded);
        Assert.StartsWith(expected.Replace("'A'", $"'{_a.Address}'", StringComparison.Ordinal), reply.Text, StringComparison.Ordinal);
        Assert.Equal(reply.Text["error: ".Length..], (string?)reply.Data!["error"]);
        Assert.Equal(before.Backends, _balancer.Snapshot.Backends);
    }

    [Fact]
    public async Task Format_And_Quit_TellTheSession()
    {
        Assert.Equal("ok: format json", (await _api.ExecuteAsync("format JSON")).Text);
        Assert.Equal("bye", (await _api.ExecuteAsync("quit")).Text);
    }

    [Fact]
    public async Task AddCommand_IsListedAndRun_AndOneThatThrowsIsAnErrorReply()
    {
        _api.AddCommand(new RuntimeCommand("show instances", "show instances", "the fleet's live instances",
            (arguments, _) => Task.FromResult(RuntimeReply.Ok("edge-1\nedge-2", new JsonObject { ["instances"] = new JsonArray("edge-1", "edge-2") }))));
        _api.AddCommand(new RuntimeCommand("explode", "explode", "fails", (_, _) => throw new InvalidOperationException("etcd is unreachable")));

        Assert.Equal("edge-1\nedge-2", (await _api.ExecuteAsync("show instances")).Text);
        Assert.Contains("show instances", (await _api.ExecuteAsync("help")).Text, StringComparison.Ordinal);
        Assert.Equal("error: 'explode' failed: etcd is unreachable", (await _api.ExecuteAsync("explode")).Text);
        Assert.Equal("error: 'show' needs one of: info, backends, connections, instances", (await _api.ExecuteAsync("show")).Text);
        var duplicate = Assert.Throws<ArgumentException>(() => _api.AddCommand(new RuntimeCommand("Show  Info", "", "", (_, _) => null!)));
        Assert.Contains("'Show  Info'", duplicate.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Changes_GoThroughTheBackendControlGiven_NotTheBalancer()
    {
        var control = new RecordingControl();
        var api = new RuntimeApi(_balancer, control);

        await api.ExecuteAsync("drain X:1");
        await api.ExecuteAsync("disable X:1");
        await api.ExecuteAsync("enable X:1");
        await api.ExecuteAsync("set weight X:1 4");
        await api.ExecuteAsync("add backend X:2 weight 5 pool p");
        await api.ExecuteAsync("remove backend X:2 close-after 1m");

        Assert.Same(control, api.Control);
        Assert.Equal(["drain X:1", "disable X:1", "enable X:1", "weight X:1 4", "add X:2 5 p", "remove X:2 00:01:00"], control.Calls);
        Assert.All(_balancer.Snapshot.Backends, backend => Assert.False(backend.Draining || backend.Disabled));
    }

    private static string StateOf(RuntimeReply showBackends, string address) =>
        (string)showBackends.Data!["backends"]!.AsArray().Single(row => (string?)row!["address"] == address)!["state"]!;

    private sealed class RecordingControl : IBackendControl
    {
        public List<string> Calls { get; } = [];

        public Task DrainAsync(string address, CancellationToken cancellationToken = default) => Record($"drain {address}");

        public Task DisableAsync(string address, CancellationToken cancellationToken = default) => Record($"disable {address}");

        public Task EnableAsync(string address, CancellationToken cancellationToken = default) => Record($"enable {address}");

        public Task SetWeightAsync(string address, int weight, CancellationToken cancellationToken = default) => Record($"weight {address} {weight}");

        public Task AddAsync(BackendOptions backend, CancellationToken cancellationToken = default) =>
            Record($"add {backend.Address} {backend.Weight} {backend.Pool}");

        public Task RemoveAsync(string address, TimeSpan? closeAfter = null, CancellationToken cancellationToken = default) =>
            Record($"remove {address} {closeAfter}");

        private Task Record(string call)
        {
            Calls.Add(call);
            return Task.CompletedTask;
        }
    }
}
