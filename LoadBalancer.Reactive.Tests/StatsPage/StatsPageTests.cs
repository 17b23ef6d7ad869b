using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Net.Sockets;
using System.Text.Json;
using HostedBalancer;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace LoadBalancer.Reactive.Tests.StatsPage;

/// <summary>
/// The HostedBalancer example's stats server, run as the example runs it (Kestrel on a loopback port of
/// its own) over a real balancer: the page, the live stream, the JSON and the Prometheus scrape.
/// </summary>
// Alone: /metrics is OpenTelemetry listening to every meter named LoadBalancer.Reactive in the process.
[Collection(nameof(RealTimeCollection))]
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class StatsPageTests : IAsyncLifetime
{
    private static readonly JsonSerializerOptions s_web = new(JsonSerializerDefaults.Web);
    private readonly LoopbackServer _backend = LoopbackServer.Echo();
    private readonly string _contentRoot = Directory.CreateTempSubdirectory("lb-stats-").FullName;
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private TcpLoadBalancer _balancer = null!;

    public async Task InitializeAsync()
    {
        (_app, _http) = await StartAppAsync(_backend.Address, "--LoadBalancer:HealthCheck:Enabled=false");
        _balancer = _app.Services.GetRequiredService<TcpLoadBalancer>();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync().WaitAsync(Loopback.Timeout);
        await _app.DisposeAsync();
        await _backend.DisposeAsync();
        Directory.Delete(_contentRoot, recursive: true);
    }

    [Fact]
    public async Task Page_IsServed_WithItsTableAndTheStreamItListensTo()
    {
        var page = await _http.GetStringAsync(new Uri("/", UriKind.Relative));

        Assert.Contains("<table>", page, StringComparison.Ordinal);
        Assert.Contains("new EventSource(\"stats/stream\")", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Page_LoadsItsChartingLibraryFromTheApp_NotFromACdn()
    {
        var page = await _http.GetStringAsync(new Uri("/", UriKind.Relative));

        Assert.Contains("<script src=\"vendor/uplot.js\"></script>", page, StringComparison.Ordinal);
        Assert.Contains("<link rel=\"stylesheet\" href=\"vendor/uplot.css\">", page, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", page, StringComparison.Ordinal);
        using var script = await _http.GetAsync(new Uri("/vendor/uplot.js", UriKind.Relative));
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("/*! https://github.com/leeoniya/uPlot (v1.6.", await script.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var style = await _http.GetAsync(new Uri("/vendor/uplot.css", UriKind.Relative));
        Assert.Equal("text/css", style.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Stream_PushesANewViewWhenTrafficFlows()
    {
        using var response = await _http.GetAsync(new Uri("/stats/stream", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var body = await response.Content.ReadAsStreamAsync();
        using var timeout = new CancellationTokenSource(Loopback.Timeout);
        await using var views = SseParser.Create(body, (type, data) => (type, JsonSerializer.Deserialize<View>(data, s_web)!))
            .EnumerateAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);

        Assert.True(await views.MoveNextAsync());
        Assert.Equal("stats", views.Current.Data.type);
        Assert.Equal(0, views.Current.Data.Item2.Accepted);

        await RelayAsync("hello");

        View latest;
        do
        {
            Assert.True(await views.MoveNextAsync());
            latest = views.Current.Data.Item2;
        }
        while (latest.BytesIn < 5);
        Assert.Equal((1, 1, 5, 5), (latest.Accepted, latest.Total, latest.BytesIn, latest.BytesOut));
        var row = Assert.Single(latest.Backends);
        Assert.Equal((_backend.Address, "UP", 1, 5L), (row.Backend, row.Status, row.Total, row.BytesOut));
    }

    [Fact]
    public async Task StatsAndMetrics_CountWhatWasRelayed()
    {
        await RelayAsync("hello");
        await RelayAsync("hi");

        var view = await _http.GetFromJsonAsync<View>(new Uri("/stats", UriKind.Relative), s_web);
        Assert.Equal((2, 7, 7), (view!.Accepted, view.BytesIn, view.BytesOut));

        var metrics = await _http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("# TYPE loadbalancer_connections_accepted_total counter", metrics, StringComparison.Ordinal);
        Assert.Contains(
            "loadbalancer_connections_accepted_total{otel_scope_name=\"LoadBalancer.Reactive\",otel_scope_loadbalancer_name=\"default\"} 2",
            metrics,
            StringComparison.Ordinal);
        Assert.Contains(
            "loadbalancer_io_bytes_total{otel_scope_name=\"LoadBalancer.Reactive\",otel_scope_loadbalancer_name=\"default\",network_io_direction=\"transmit\"," +
            $"server_address=\"127.0.0.1\",server_port=\"{_backend.EndPoint.Port}\"}} 7",
            metrics,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthzAndReadyz_WhileTheBalancerServes_AreHealthy()
    {
        Assert.Equal((HttpStatusCode.OK, "Healthy"), await GetAsync(_http, "/healthz"));
        Assert.Equal((HttpStatusCode.OK, "Healthy"), await GetAsync(_http, "/readyz"));
    }

    [Fact]
    public async Task Readyz_BalancerStopped_IsUnhealthy_WhileHealthzStillAnswers()
    {
        await _balancer.StopAsync().WaitAsync(Loopback.Timeout);

        Assert.Equal((HttpStatusCode.ServiceUnavailable, "Unhealthy"), await GetAsync(_http, "/readyz"));
        Assert.Equal((HttpStatusCode.OK, "Healthy"), await GetAsync(_http, "/healthz"));
    }

    [Fact]
    public async Task Readyz_EveryBackendDown_IsUnhealthyUntilOneComesBack_WhileHealthzStillAnswers()
    {
        // A host of its own, with probes fast enough to see its one backend go and come back.
        await using var backend = LoopbackServer.Holding();
        var (app, http) = await StartAppAsync(
            backend.Address, "--LoadBalancer:HealthCheck:Interval=100ms", "--LoadBalancer:HealthCheck:Fall=1", "--LoadBalancer:HealthCheck:Rise=1");
        await using (app)
        using (http)
        {
            Assert.Equal((HttpStatusCode.OK, "Healthy"), await GetAsync(http, "/readyz"));

            await backend.StopListeningAsync();
            await WaitForAsync(http, "/readyz", (HttpStatusCode.ServiceUnavailable, "Unhealthy"));
            Assert.Equal((HttpStatusCode.OK, "Healthy"), await GetAsync(http, "/healthz"));

            backend.ResumeListening();
            await WaitForAsync(http, "/readyz", (HttpStatusCode.OK, "Healthy"));
            await app.StopAsync().WaitAsync(Loopback.Timeout);
        }
    }

    // The example as it runs, with an empty content root (no appsettings.json): only these settings.
    private async Task<(WebApplication App, HttpClient Http)> StartAppAsync(string backend, params string[] settings)
    {
        var app = HostedBalancerApp.Build(new()
        {
            ContentRootPath = _contentRoot,
            Args =
            [
                "--Stats:Url=http://127.0.0.1:0",
                "--LoadBalancer:Listen:0=127.0.0.1:0",
                $"--LoadBalancer:Backends:0={backend}",
                "--Logging:LogLevel:Default=Warning",
                .. settings,
            ],
        });
        await app.StartAsync().WaitAsync(Loopback.Timeout);
        return (app, new HttpClient { BaseAddress = new Uri(Assert.Single(app.Urls)), Timeout = Loopback.Timeout });
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative)).WaitAsync(Loopback.Timeout);
        return (response.StatusCode, await response.Content.ReadAsStringAsync().WaitAsync(Loopback.Timeout));
    }

    // Health follows probes on their own time: ask until the answer comes, for at most Loopback.Timeout.
    private static async Task WaitForAsync(HttpClient http, string path, (HttpStatusCode, string) expected)
    {
        var deadline = DateTime.UtcNow + Loopback.Timeout;
        (HttpStatusCode, string) answer;
        while ((answer = await GetAsync(http, path)) != expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{path} still answers {answer}, not {expected}");
            await Task.Delay(20);
        }
    }

    private async Task RelayAsync(string text)
    {
        using var events = new EventRecorder(_balancer.Events);
        using var client = await Loopback.ConnectAsync(_balancer.ListenEndPoints[0]);
        await Loopback.SendAllAsync(client, System.Text.Encoding.ASCII.GetBytes(text));
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal(text, System.Text.Encoding.ASCII.GetString(await Loopback.ReadToEndAsync(client)));
        await events.WaitForAsync<ConnectionCompleted>();
    }

    private sealed record View(long Accepted, long Total, long BytesIn, long BytesOut, IReadOnlyList<Row> Backends);

    private sealed record Row(string Backend, string Status, long Total, long BytesOut);
}
