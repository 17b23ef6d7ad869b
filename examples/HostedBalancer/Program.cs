using LoadBalancer.Reactive;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// A Generic Host running a balancer from appsettings.json ("LoadBalancer" section). Try it against the
// Quickstart's demo backends: dotnet run --project examples/Quickstart -- --listen 127.0.0.1:8999
// (which starts them on 8081-8083), then dotnet run --project examples/HostedBalancer.
var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddTcpLoadBalancer(builder.Configuration.GetSection("LoadBalancer"));
builder.Services.AddHostedService<BackendReport>();
using var host = builder.Build();
await host.RunAsync();

/// <summary>The running balancer, injected: reports each backend's state whenever a backend changes.</summary>
internal sealed class BackendReport(TcpLoadBalancer balancer, ILogger<BackendReport> logger) : IHostedService
{
    private IDisposable? _subscription;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = balancer.Events.Subscribe(e =>
        {
            if (e is BackendHealthChanged or BackendEjected or BackendReturned or BackendMembershipChanged)
            {
                foreach (var backend in balancer.Snapshot.Backends)
                {
                    logger.LogInformation(
                        "{Backend}: {State}, {Active} active, {Total} in all",
                        backend.Address, backend.Available ? "available" : "not available", backend.ActiveConnections, backend.TotalConnections);
                }
            }
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription?.Dispose();
        return Task.CompletedTask;
    }
}
