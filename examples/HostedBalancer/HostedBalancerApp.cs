using HostedBalancer.Stats;
using LoadBalancer.Reactive;
using LoadBalancer.Reactive.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace HostedBalancer;

/// <summary>The host: the balancer as a hosted service, and Kestrel serving its stats page and metrics.</summary>
internal static class HostedBalancerApp
{
    /// <summary>Where the stats page is served unless <c>Stats:Url</c> says otherwise (HAProxy's habit).</summary>
    public const string DefaultStatsUrl = "http://127.0.0.1:8404";

    public static WebApplication Build(WebApplicationOptions options)
    {
        var builder = WebApplication.CreateBuilder(options);
        builder.Services.AddTcpLoadBalancer(builder.Configuration.GetSection("LoadBalancer"));
        builder.Services
            .AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("HostedBalancer"))
            .WithMetrics(metrics => metrics.AddMeter(TcpLoadBalancer.MeterName).AddPrometheusExporter());
        builder.WebHost.UseUrls(builder.Configuration["Stats:Url"] ?? DefaultStatsUrl);

        var app = builder.Build();
        app.MapStatsPage();
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
