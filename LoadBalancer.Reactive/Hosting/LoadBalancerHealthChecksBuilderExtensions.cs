using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LoadBalancer.Reactive.Hosting;

/// <summary>Reports a hosted <see cref="TcpLoadBalancer"/>'s health through ASP.NET Core's health checks.</summary>
public static class LoadBalancerHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a check of the balancer registered by <see cref="LoadBalancerServiceCollectionExtensions.AddTcpLoadBalancer(IServiceCollection, Microsoft.Extensions.Configuration.IConfiguration)"/>,
    /// for a readiness endpoint: Healthy when it listens and every backend meant to serve is in service; Degraded when
    /// it still serves with less (some backends down or ejected, or none and panic mode on); <paramref name="failureStatus"/>
    /// when it is not started, stopping or stopped, or has no backend in service without panic mode. Its data names the
    /// listen endpoints, the backends in service and in all, and the active connections.
    /// </summary>
    /// <param name="builder">What <c>services.AddHealthChecks()</c> returned.</param>
    /// <param name="name">The check's name in reports. Default: <c>tcp-load-balancer</c>.</param>
    /// <param name="failureStatus">What a failing check reports. Default: null, <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags to select the check by, such as <c>"ready"</c>. Default: none.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static IHealthChecksBuilder AddTcpLoadBalancer(
        this IHealthChecksBuilder builder, string name = "tcp-load-balancer", HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        return builder.Add(new HealthCheckRegistration(
            name, provider => new TcpLoadBalancerHealthCheck(provider.GetRequiredService<TcpLoadBalancer>()), failureStatus, tags));
    }
}
