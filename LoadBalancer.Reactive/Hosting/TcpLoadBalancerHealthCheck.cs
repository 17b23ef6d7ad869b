using System.Net;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Diagnostics;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LoadBalancer.Reactive.Hosting;

/// <summary>
/// The balancer's own health, for a readiness endpoint, read from its lifecycle and its <see cref="TcpLoadBalancer.Snapshot"/>:
/// <list type="bullet">
/// <item>Healthy: listening, and every backend meant to serve (weighted and not draining) is in service.</item>
/// <item>
/// Degraded: listening and serving, but with less than it should: some backends meant to serve are down or
/// ejected, or none is and panic mode spreads connections over every weighted backend anyway. Degraded rather
/// than healthy because an operator should hear of it before the last backend goes; rather than unhealthy
/// because every connection is still served, and a readiness probe (which passes Degraded by default) must not
/// take a balancer that serves out of rotation. Backends drained or weighted 0 on purpose are not counted.
/// </item>
/// <item>
/// Unhealthy (or the registration's failure status): not started, stopping or stopped, or no backend in service
/// without panic mode, when every connection would be rejected.
/// </item>
/// </list>
/// A backend is in service when it is weighted, healthy, not ejected and not draining; a full one counts, since
/// connections wait for it.
/// </summary>
internal sealed class TcpLoadBalancerHealthCheck(TcpLoadBalancer balancer) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Evaluate(
            balancer.Lifecycle, balancer.Snapshot, balancer.PanicMode, balancer.ListenEndPoints, context.Registration?.FailureStatus ?? HealthStatus.Unhealthy));

    /// <summary>The verdict for one moment of a balancer, with what it was judged on as the result's data.</summary>
    public static HealthCheckResult Evaluate(
        BalancerLifecycle lifecycle, BalancerSnapshot snapshot, bool panicMode, IReadOnlyList<IPEndPoint> listening, HealthStatus failureStatus)
    {
        var meant = snapshot.Backends.Count(backend => backend.Weight > 0 && !backend.Draining);
        var inService = snapshot.Backends.Count(backend => backend.InService);
        var data = new Dictionary<string, object>
        {
            ["lifecycle"] = lifecycle.ToString(),
            ["listen"] = listening.Select(endPoint => endPoint.ToString()).ToArray(),
            ["backends"] = snapshot.Backends.Count,
            ["backendsInService"] = inService,
            ["activeConnections"] = snapshot.ActiveConnections,
        };

        return (lifecycle, inService) switch
        {
            (BalancerLifecycle.NotStarted, _) => new(failureStatus, "The balancer has not started.", data: data),
            (BalancerLifecycle.Stopping, _) => new(failureStatus, "The balancer is stopping.", data: data),
            (BalancerLifecycle.Stopped, _) => new(failureStatus, "The balancer has stopped.", data: data),
            (_, 0) when panicMode && meant > 0 =>
                HealthCheckResult.Degraded($"No backend is in service; panic mode spreads connections over all {meant} weighted backends.", data: data),
            (_, 0) => new(failureStatus, "No backend is in service: every connection is rejected.", data: data),
            _ when inService < meant => HealthCheckResult.Degraded($"{inService} of {meant} backends are in service.", data: data),
            _ => HealthCheckResult.Healthy($"{inService} of {meant} backends are in service.", data: data),
        };
    }
}
