using System.Reactive;
using System.Reactive.Subjects;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Quickstart;

namespace LoadBalancer.Reactive.Tests.Quickstart;

/// <summary>The Quickstart's --config file, loaded, reloaded live, and reloaded broken.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class QuickstartReloadTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lb-reload-").FullName;

    [Fact]
    public async Task Reload_AppliesNewBackendsLive_AndABrokenFileKeepsTheRunningSet()
    {
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        await using var c = LoopbackServer.Named();
        var path = WriteConfig(a.Address, b.Address);
        var reloads = new Subject<Unit>();
        await using var run = await Run.StartAsync(path, reloads);
        using var events = new EventRecorder(run.Balancer.Events);
        Assert.Equal(new[] { a.Address, b.Address }.Order(), await AnswersAsync(run));

        File.WriteAllText(path, Config(a.Address, c.Address));
        reloads.OnNext(Unit.Default);
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Backend == b.Address && e.Kind == MembershipChangeKind.Left);
        Assert.Equal(new[] { a.Address, c.Address }.Order(), await AnswersAsync(run));

        File.WriteAllText(path, "{ \"Backends\": [ \"not an address\" ] }");
        reloads.OnNext(Unit.Default);
        await Loopback.WaitUntilAsync(() => run.Errors.Contains("is invalid; the running configuration stays", StringComparison.Ordinal), "the reload was refused");
        Assert.Contains("Backends[0].Address 'not an address'", run.Errors, StringComparison.Ordinal);
        Assert.Equal(new[] { a.Address, c.Address }.Order(), await AnswersAsync(run));
    }

    [Fact]
    public async Task EditingTheFile_ReloadsItWithoutASignal()
    {
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        var path = WriteConfig(a.Address, b.Address);
        await using var run = await Run.StartAsync(path, reloads: null);
        using var events = new EventRecorder(run.Balancer.Events);

        File.WriteAllText(path, Config(a.Address, b.Address, weightOfFirst: 3));

        var reweighted = Assert.Single(await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Reweighted));
        Assert.Equal((a.Address, 3), (reweighted.Backend, reweighted.Weight));
    }

    [Fact]
    public async Task Reload_ChangesThatNeedARestart_AreReportedByKey_AndTheBackendsStillApply()
    {
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        var path = WriteConfig(a.Address, b.Address);
        var reloads = new Subject<Unit>();
        await using var run = await Run.StartAsync(path, reloads);
        using var events = new EventRecorder(run.Balancer.Events);

        File.WriteAllText(path, Config(a.Address, b.Address, weightOfFirst: 2, strategy: "maglev").Replace("\"Listen\"", "\"DrainTimeout\": \"1s\", \"Listen\"", StringComparison.Ordinal));
        reloads.OnNext(Unit.Default);

        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Reweighted);
        await Loopback.WaitUntilAsync(() => run.Output.Contains("need(s) a restart", StringComparison.Ordinal), "the restart was reported");
        Assert.Contains("reload: Strategy changed and need(s) a restart; not applied", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_AnUnknownKey_KeepsTheRunningSet()
    {
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        var path = WriteConfig(a.Address, b.Address);
        var reloads = new Subject<Unit>();
        await using var run = await Run.StartAsync(path, reloads);

        File.WriteAllText(path, Config(a.Address, b.Address).Replace("\"Strategy\"", "\"connectAttempts\": 2, \"Strategy\"", StringComparison.Ordinal));
        reloads.OnNext(Unit.Default);

        await Loopback.WaitUntilAsync(() => run.Errors.Contains("connectAttempts is not a setting", StringComparison.Ordinal), "the reload was refused");
        Assert.Contains("balancer.json is invalid; the running configuration stays", run.Errors, StringComparison.Ordinal);
        Assert.Equal(new[] { a.Address, b.Address }.Order(), await AnswersAsync(run));
    }

    [Fact]
    public async Task Reload_AccessRulesAndLimits_ApplyLive_ThroughReconfigure()
    {
        await using var a = LoopbackServer.Named();
        await using var b = LoopbackServer.Named();
        var path = WriteConfig(a.Address, b.Address);
        var reloads = new Subject<Unit>();
        await using var run = await Run.StartAsync(path, reloads);
        using var events = new EventRecorder(run.Balancer.Events);

        File.WriteAllText(path, Config(a.Address, b.Address).Replace("\"Strategy\"", "\"Clients\": { \"Deny\": [\"127.0.0.0/8\"] }, \"Strategy\"", StringComparison.Ordinal));
        reloads.OnNext(Unit.Default);

        var changed = Assert.Single(await events.WaitForAsync<ConfigurationChanged>(1));
        Assert.Contains("Clients:Deny", changed.Applied);
        Assert.Empty(changed.RestartNeeded);
        using var refused = await Loopback.ConnectAsync(run.Balancer.ListenEndPoints[0]);
        Assert.Equal(RejectionReason.Denied, Assert.Single(await events.WaitForAsync<ConnectionRejected>(1)).Reason);
        await Loopback.WaitUntilAsync(() => run.Output.Contains("configuration applied: Clients:Deny", StringComparison.Ordinal), "the change was printed");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static async Task<IEnumerable<string>> AnswersAsync(Run run)
    {
        var answers = new HashSet<string>();
        for (var i = 0; i < 6; i++)
        {
            answers.Add(await Loopback.AskAsync(run.Balancer.ListenEndPoints[0]));
        }

        return answers.Order();
    }

    private string WriteConfig(string first, string second)
    {
        var path = Path.Combine(_directory, "balancer.json");
        File.WriteAllText(path, Config(first, second));
        return path;
    }

    private static string Config(string first, string second, int weightOfFirst = 1, string strategy = "round-robin") => $$"""
        {
          "Listen": ["127.0.0.1:0"],
          "Backends": [ { "Address": "{{first}}", "Weight": {{weightOfFirst}} }, "{{second}}" ],
          "Strategy": "{{strategy}}",
          "HealthCheck": { "Enabled": false }
        }
        """;

    /// <summary>The Quickstart running in-process with a config file, stopped when disposed.</summary>
    private sealed class Run : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly StringWriter _errors = new();
        private readonly StringWriter _output = new();
        private Task<int> _running = Task.FromResult(0);

        public TcpLoadBalancer Balancer { get; private set; } = null!;

        public string Errors => _errors.ToString();

        public string Output => _output.ToString();

        public static async Task<Run> StartAsync(string path, IObservable<Unit>? reloads)
        {
            var run = new Run();
            var started = new TaskCompletionSource<TcpLoadBalancer>();
            run._running = QuickstartApp.RunAsync(
                ["--config", path, "--quiet"], TextWriter.Synchronized(run._output), TextWriter.Synchronized(run._errors), run._stop.Token,
                started: started.SetResult, reloadRequests: reloads, environment: new System.Collections.Hashtable());
            run.Balancer = await started.Task.WaitAsync(Loopback.Timeout);
            return run;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            Assert.Equal(QuickstartApp.ExitOk, await _running.WaitAsync(Loopback.Timeout));
            _stop.Dispose();
        }
    }
}
