using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using HostedBalancer;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace LoadBalancer.Reactive.Tests.StatsPage;

/// <summary>The HostedBalancer example's runtime API over HTTP, run as the example runs it, over a real balancer.</summary>
// Beside StatsPageTests: the host's OpenTelemetry listens to every balancer meter in the process.
[Collection(nameof(RealTimeCollection))]
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class AdminEndpointsTests : IAsyncLifetime
{
    private readonly LoopbackServer _a = LoopbackServer.Echo();
    private readonly LoopbackServer _b = LoopbackServer.Echo();
    private readonly string _contentRoot = Directory.CreateTempSubdirectory("lb-admin-http-").FullName;
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private TcpLoadBalancer _balancer = null!;

    public async Task InitializeAsync()
    {
        _app = HostedBalancerApp.Build(new()
        {
            ContentRootPath = _contentRoot,
            Args =
            [
                "--Stats:Url=http://127.0.0.1:0",
                "--LoadBalancer:Listen:0=127.0.0.1:0",
                $"--LoadBalancer:Backends:0={_a.Address}",
                $"--LoadBalancer:Backends:1={_b.Address}",
                "--LoadBalancer:HealthCheck:Enabled=false",
                "--Logging:LogLevel:Default=Warning",
            ],
        });
        await _app.StartAsync().WaitAsync(Loopback.Timeout);
        _http = new HttpClient { BaseAddress = new Uri(Assert.Single(_app.Urls)), Timeout = Loopback.Timeout };
        _balancer = _app.Services.GetRequiredService<TcpLoadBalancer>();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync().WaitAsync(Loopback.Timeout);
        await _app.DisposeAsync();
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        Directory.Delete(_contentRoot, recursive: true);
    }

    [Fact]
    public async Task Views_AnswerTheCommandSetsJson()
    {
        var (status, info) = await SendAsync(HttpMethod.Get, "/admin/info");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(("default", "running", 2), ((string?)info["name"], (string?)info["state"], (int)info["backends"]!));

        var (_, backends) = await SendAsync(HttpMethod.Get, "/admin/backends");
        Assert.Equal([_a.Address, _b.Address], backends["backends"]!.AsArray().Select(row => (string?)row!["address"]));

        var (_, connections) = await SendAsync(HttpMethod.Get, "/admin/connections");
        Assert.Equal((0, 0), ((int)connections["open"]!, (int)connections["queued"]!));
    }

    [Fact]
    public async Task DrainDisableEnable_ChangeTheBackend_AsEventsOfTheBalancer()
    {
        using var events = new EventRecorder(_balancer.Events);

        var (status, drained) = await SendAsync(HttpMethod.Post, $"/admin/backends/{_a.Address}/drain", "{}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(("drain", _a.Address), ((string?)drained["command"], (string?)drained["backend"]));
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.DrainStarted);
        Assert.Equal("draining", await StateAsync(_a.Address));

        await SendAsync(HttpMethod.Post, $"/admin/backends/{_a.Address}/disable", "{}");
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Disabled);
        Assert.Equal("disabled", await StateAsync(_a.Address));

        await SendAsync(HttpMethod.Post, $"/admin/backends/{_a.Address}/enable", "{}");
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Enabled);
        Assert.Equal("up", await StateAsync(_a.Address));
    }

    [Fact]
    public async Task Weight_IsSet_AndAMissingOrBadOneIsA400NamingIt()
    {
        var (status, set) = await SendAsync(HttpMethod.Post, $"/admin/backends/{_b.Address}/weight", """{"weight": 5}""");
        Assert.Equal((HttpStatusCode.OK, 5), (status, (int)set["weight"]!));
        await Loopback.WaitUntilAsync(() => _balancer.Snapshot.Backends[1].Weight == 5, "the weight is folded");

        Assert.Equal(
            (HttpStatusCode.BadRequest, "'weight' is missing; send {\"weight\": N}"),
            Error(await SendAsync(HttpMethod.Post, $"/admin/backends/{_b.Address}/weight", "{}")));
        Assert.Equal(
            (HttpStatusCode.BadRequest, "weight '20000' is not a whole number from 0 to 10000"),
            Error(await SendAsync(HttpMethod.Post, $"/admin/backends/{_b.Address}/weight", """{"weight": 20000}""")));
        Assert.Equal(
            (HttpStatusCode.BadRequest, "No backend '10.9.9.9:1' is a member"),
            Error(await SendAsync(HttpMethod.Post, "/admin/backends/10.9.9.9:1/drain", "{}")));
        Assert.Equal(5, _balancer.Snapshot.Backends[1].Weight);
    }

    [Fact]
    public async Task AddThenDelete_JoinsAndRemovesABackend()
    {
        await using var c = LoopbackServer.Echo();
        using var events = new EventRecorder(_balancer.Events);

        var (status, added) = await SendAsync(HttpMethod.Post, "/admin/backends", $$"""{"address": "{{c.Address}}", "weight": 4, "pool": "blue"}""");

        Assert.Equal((HttpStatusCode.OK, "add backend", 4, "blue"), (status, (string?)added["command"], (int)added["weight"]!, (string?)added["pool"]));
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Joined && e.Backend == c.Address);

        var (removedStatus, removed) = await SendAsync(HttpMethod.Delete, $"/admin/backends/{c.Address}?closeAfter=10s");

        Assert.Equal((HttpStatusCode.OK, 10.0), (removedStatus, (double)removed["closeAfterSeconds"]!));
        await events.WaitForAsync<BackendMembershipChanged>(1, e => e.Kind == MembershipChangeKind.Left && e.Backend == c.Address);
        Assert.Equal(
            (HttpStatusCode.BadRequest, "'address' is missing; send {\"address\": \"HOST:PORT\", \"weight\": N, \"pool\": P}"),
            Error(await SendAsync(HttpMethod.Post, "/admin/backends", """{"weight": 1}""")));
    }

    [Fact]
    public async Task Post_WithoutJsonContentType_IsRefusedAndChangesNothing()
    {
        using var form = new StringContent("x=1", Encoding.UTF8, "application/x-www-form-urlencoded");
        using var response = await _http.PostAsync(new Uri($"/admin/backends/{_a.Address}/drain", UriKind.Relative), form).WaitAsync(Loopback.Timeout);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("""{"error":"a POST to /admin must be sent as Content-Type: application/json"}""", await response.Content.ReadAsStringAsync());
        Assert.False(_balancer.Snapshot.Backends[0].Draining);
    }

    [Fact]
    public async Task ARequestForAnotherHostName_IsRefused_AsADnsRebindingPageWouldSendIt()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/admin/backends/{_a.Address}/drain", UriKind.Relative))
        {
            Content = new StringContent("{}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Host = "attacker.example";

        using var response = await _http.SendAsync(request).WaitAsync(Loopback.Timeout);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("loopback host only", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(_balancer.Snapshot.Backends[0].Draining);
    }

    [Fact]
    public async Task WithAnAdminToken_EveryRequestNeedsIt_AndWithoutOne_ANonLoopbackStatsUrlDoesNotStart()
    {
        var app = HostedBalancerApp.Build(new()
        {
            ContentRootPath = _contentRoot,
            Args = ["--Stats:Url=http://127.0.0.1:0", "--Stats:AdminToken=s3cret", "--LoadBalancer:Listen:0=127.0.0.1:0", $"--LoadBalancer:Backends:0={_a.Address}",
                "--LoadBalancer:HealthCheck:Enabled=false", "--Logging:LogLevel:Default=Warning"],
        });
        await app.StartAsync().WaitAsync(Loopback.Timeout);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(Assert.Single(app.Urls)), Timeout = Loopback.Timeout };
            using var anonymous = await http.GetAsync(new Uri("/admin/info", UriKind.Relative)).WaitAsync(Loopback.Timeout);
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "s3cret");
            using var authorized = await http.GetAsync(new Uri("/admin/info", UriKind.Relative)).WaitAsync(Loopback.Timeout);

            Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.OK), (anonymous.StatusCode, authorized.StatusCode));
        }
        finally
        {
            await app.StopAsync().WaitAsync(Loopback.Timeout);
            await app.DisposeAsync();
        }

        var refused = Assert.Throws<InvalidOperationException>(() => HostedBalancerApp.Build(new()
        {
            ContentRootPath = _contentRoot,
            Args = ["--Stats:Url=http://0.0.0.0:0", "--LoadBalancer:Listen:0=127.0.0.1:0", $"--LoadBalancer:Backends:0={_a.Address}"],
        }));
        Assert.Contains("Stats:Url 'http://0.0.0.0:0' is not a loopback address", refused.Message, StringComparison.Ordinal);
    }

    private async Task<string> StateAsync(string address)
    {
        var (_, backends) = await SendAsync(HttpMethod.Get, "/admin/backends");
        return (string)backends["backends"]!.AsArray().Single(row => (string?)row!["address"] == address)!["state"]!;
    }

    private static (HttpStatusCode, string?) Error((HttpStatusCode Status, JsonNode Body) answer) => (answer.Status, (string?)answer.Body["error"]);

    private async Task<(HttpStatusCode Status, JsonNode Body)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative))
        {
            Content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json"),
        };
        using var response = await _http.SendAsync(request).WaitAsync(Loopback.Timeout);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonNode>().WaitAsync(Loopback.Timeout))!);
    }
}
