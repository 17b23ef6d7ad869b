using HostedBalancer.Admin;
using HostedBalancer.Stats;
using LoadBalancer.Reactive;
using LoadBalancer.Reactive.Admin;
using LoadBalancer.Reactive.Hosting;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace HostedBalancer;

/// <summary>The host: the balancer as a hosted service, and Kestrel serving its stats page, runtime API, metrics and health endpoints.</summary>
internal static class HostedBalancerApp
{
    /// <summary>Where the stats page is served unless <c>Stats:Url</c> says otherwise (HAProxy's habit).</summary>
    public const string DefaultStatsUrl = "http://127.0.0.1:8404";

    // The tag /readyz selects its checks by; /healthz runs none.
    private const string Ready = "ready";

    public static WebApplication Build(WebApplicationOptions options)
    {
        var builder = WebApplication.CreateBuilder(options);
        builder.Services.AddTcpLoadBalancer(builder.Configuration.GetSection("LoadBalancer"));
        builder.Services.AddHealthChecks().AddTcpLoadBalancer(tags: [Ready]);
        if (builder.Configuration.GetSection("Etcd").Exists())
        {
            // A fleet's instance: its backends come from etcd, and its runtime API's changes go there for every instance.
            builder.Services.AddTcpLoadBalancerFleet(builder.Configuration.GetSection("Etcd"));
        }

        builder.Services.AddSingleton(services =>
            services.GetService<HostedFleet>()?.CreateRuntimeApi() ?? new RuntimeApi(services.GetRequiredService<TcpLoadBalancer>()));
        builder.Services
            .AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("HostedBalancer"))
            .WithMetrics(metrics => metrics.AddMeter(TcpLoadBalancer.MeterName).AddPrometheusExporter());
        var statsUrl = builder.Configuration["Stats:Url"] ?? DefaultStatsUrl;
        var adminToken = builder.Configuration["Stats:AdminToken"] is { Length: > 0 } token ? token : null;
        if (adminToken is null && !AdminEndpoints.IsLoopback(statsUrl))
        {
            // As the Quickstart's --admin: the runtime API is not served beyond loopback without a token.
            throw new InvalidOperationException($"Stats:Url '{statsUrl}' is not a loopback address: set Stats:AdminToken, whose bearer token the /admin endpoints will then require.");
        }

        builder.WebHost.UseUrls(statsUrl);

        var app = builder.Build();
        app.MapStatsPage();
        app.MapRuntimeApi(adminToken);
        app.MapPrometheusScrapingEndpoint("/metrics");

        // Liveness: the process answers (no check runs, so a balancer without backends is not restarted for it).
        // Readiness: the balancer listens and has a backend to send connections to.
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains(Ready) });
        return app;
    }
}
