using System.Collections.Concurrent;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Hosting;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LoadBalancer.Reactive.Tests.Hosting;

/// <summary>A hosted balancer following its configuration section as it reloads, from memory and from a JSON file.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class HostedReloadTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lb-hosted-").FullName;
    private readonly ConcurrentQueue<(LogLevel Level, string Message)> _log = new();
    private readonly ChangingSource _source = new();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Reload_ChangedBackends_AreAppliedLive_WhileAnOpenRelayCarriesOn()
    {
        await using var first = LoopbackServer.Named();
        await using var second = LoopbackServer.Named();
        var builder = Host.CreateApplicationBuilder();
        ((IConfigurationBuilder)builder.Configuration).Add(_source.With(Settings(first.Address)));
        using var host = Build(builder);
        await host.StartAsync().WaitAsync(Loopback.Timeout);
        var balancer = host.Services.GetRequiredService<TcpLoadBalancer>();
        using var events = new EventRecorder(balancer.Events);
        using var open = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await events.WaitForAsync<BackendConnected>();

        Reload(("LoadBalancer:Backends:0", second.Address), ("LoadBalancer:MaxConnections", "100"));

        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Backend == second.Address && e.Kind == MembershipChangeKind.Joined);
        Assert.Equal(second.Address, await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        open.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        Assert.Equal(first.Address, System.Text.Encoding.ASCII.GetString(await Loopback.ReadToEndAsync(open)));
        var changed = Assert.Single(events.OfType<ConfigurationChanged>());
        Assert.Equal(["Backends", "MaxConnections"], changed.Applied);
        Assert.Contains(_log, line => line.Level == LogLevel.Information && line.Message.Contains("Backends, MaxConnections", StringComparison.Ordinal));
        await host.StopAsync().WaitAsync(Loopback.Timeout);
    }

    [Fact]
    public async Task Reload_InvalidChange_IsLoggedWithEveryProblem_AndNothingIsApplied()
    {
        await using var backend = LoopbackServer.Named();
        var builder = Host.CreateApplicationBuilder();
        ((IConfigurationBuilder)builder.Configuration).Add(_source.With(Settings(backend.Address)));
        using var host = Build(builder);
        await host.StartAsync().WaitAsync(Loopback.Timeout);
        var balancer = host.Services.GetRequiredService<TcpLoadBalancer>();
        using var events = new EventRecorder(balancer.Events);

        Reload(("LoadBalancer:Backends:0", "10.0.0.1:99999"), ("LoadBalancer:MaxConnections", "lots"));

        var error = Assert.Single(_log, line => line.Level == LogLevel.Error && line.Message.Contains("reload", StringComparison.Ordinal));
        Assert.Contains("LoadBalancer:MaxConnections", error.Message, StringComparison.Ordinal);
        Assert.Equal(backend.Address, await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        Assert.Empty(events.OfType<ConfigurationChanged>());
        await host.StopAsync().WaitAsync(Loopback.Timeout);
    }

    [Fact]
    public async Task Reload_SettingsThatNeedARestart_AreEachLoggedAsAWarningNamingTheKey()
    {
        await using var backend = LoopbackServer.Named();
        var builder = Host.CreateApplicationBuilder();
        ((IConfigurationBuilder)builder.Configuration).Add(_source.With(Settings(backend.Address)));
        using var host = Build(builder);
        await host.StartAsync().WaitAsync(Loopback.Timeout);
        var balancer = host.Services.GetRequiredService<TcpLoadBalancer>();
        using var events = new EventRecorder(balancer.Events);

        Reload(("LoadBalancer:Strategy", "round-robin"), ("LoadBalancer:Listen:0", "127.0.0.1:1"));
        await events.WaitForAsync<ConfigurationChanged>();

        await Loopback.WaitUntilAsync(() => _log.Count(line => line.Level == LogLevel.Warning) == 2, "two warnings");
        Assert.Equal(
            ["Listen", "Strategy"],
            _log.Where(line => line.Level == LogLevel.Warning).Select(line => line.Message.Split(' ')[2]).Order());
        Assert.Equal(backend.Address, await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        await host.StopAsync().WaitAsync(Loopback.Timeout);
    }

    [Fact]
    public async Task JsonFileRewritten_TheBalancerFollowsIt()
    {
        await using var first = LoopbackServer.Named();
        await using var second = LoopbackServer.Named();
        var path = Path.Combine(_directory, "balancer.json");
        await File.WriteAllTextAsync(path, Json(first.Address));
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddJsonFile(path, optional: false, reloadOnChange: true);
        using var host = Build(builder);
        await host.StartAsync().WaitAsync(Loopback.Timeout);
        var balancer = host.Services.GetRequiredService<TcpLoadBalancer>();
        using var events = new EventRecorder(balancer.Events);

        await File.WriteAllTextAsync(path, Json(second.Address));

        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Backend == second.Address && e.Kind == MembershipChangeKind.Joined);
        Assert.Equal(second.Address, await Loopback.AskAsync(balancer.ListenEndPoints[0]));
        await host.StopAsync().WaitAsync(Loopback.Timeout);
    }

    private static Dictionary<string, string?> Settings(string backend) => new()
    {
        ["LoadBalancer:Listen:0"] = "127.0.0.1:0",
        ["LoadBalancer:Backends:0"] = backend,
        ["LoadBalancer:HealthCheck:Enabled"] = "false",
    };

    private static string Json(string backend) =>
        $$"""{ "LoadBalancer": { "Listen": [ "127.0.0.1:0" ], "Backends": [ "{{backend}}" ], "HealthCheck": { "Enabled": false } } }""";

    // Changes the values of the in-memory source at once, then signals one reload, as a changed file would.
    private void Reload(params (string Key, string Value)[] values) => _source.Provider.Change(values);

    private IHost Build(HostApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new RecordingProvider(_log));
        builder.Services.AddTcpLoadBalancer(builder.Configuration.GetSection("LoadBalancer"));
        return builder.Build();
    }

    private sealed class ChangingSource : IConfigurationSource
    {
        public ChangingProvider Provider { get; } = new();

        public ChangingSource With(Dictionary<string, string?> values)
        {
            foreach (var (key, value) in values)
            {
                Provider.Set(key, value);
            }

            return this;
        }

        public IConfigurationProvider Build(IConfigurationBuilder builder) => Provider;
    }

    private sealed class ChangingProvider : ConfigurationProvider
    {
        public void Change((string Key, string Value)[] values)
        {
            foreach (var (key, value) in values)
            {
                Data[key] = value;
            }

            OnReload();
        }
    }

    private sealed class RecordingProvider(ConcurrentQueue<(LogLevel Level, string Message)> log) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Recording(categoryName, log);

        public void Dispose()
        {
        }

        private sealed class Recording(string category, ConcurrentQueue<(LogLevel Level, string Message)> log) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => category.StartsWith("LoadBalancer", StringComparison.Ordinal) && logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    log.Enqueue((logLevel, formatter(state, exception)));
                }
            }
        }
    }
}
