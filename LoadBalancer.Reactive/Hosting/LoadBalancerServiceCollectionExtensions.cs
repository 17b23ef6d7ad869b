using System.Diagnostics.Metrics;
using LoadBalancer.Reactive.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LoadBalancer.Reactive.Hosting;

/// <summary>Runs a <see cref="TcpLoadBalancer"/> in a .NET Generic Host.</summary>
public static class LoadBalancerServiceCollectionExtensions
{
    /// <summary>
    /// Registers a balancer configured from <paramref name="configuration"/> (see <see cref="LoadBalancerConfiguration"/>)
    /// as a singleton and as a hosted service: it starts with the host, and when the host stops it stops
    /// accepting and lets open connections finish until the host's shutdown timeout. Inject
    /// <see cref="TcpLoadBalancer"/> to subscribe to its events or change its backends. Invalid settings fail
    /// the host's start with every problem listed.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The section holding the balancer's settings, such as <c>configuration.GetSection("LoadBalancer")</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddTcpLoadBalancer(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services.AddTcpLoadBalancer(_ => LoadBalancerConfiguration.Read(configuration));
    }

    /// <summary>Registers a balancer with options made in code, as <see cref="AddTcpLoadBalancer(IServiceCollection, IConfiguration)"/> does.</summary>
    /// <param name="services">The host's services.</param>
    /// <param name="options">Makes the options, given the host's services.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddTcpLoadBalancer(this IServiceCollection services, Func<IServiceProvider, LoadBalancerOptions> options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(provider => new TcpLoadBalancer(
            options(provider), scheduler: null, provider.GetService<ILogger<TcpLoadBalancer>>(), provider.GetService<IMeterFactory>()));
        services.AddHostedService<LoadBalancerHostedService>();
        return services;
    }

    private sealed class LoadBalancerHostedService(TcpLoadBalancer balancer) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => balancer.StartAsync(cancellationToken);

        // The host cancels the token at its shutdown timeout: that is the drain deadline.
        public Task StopAsync(CancellationToken cancellationToken) => balancer.StopAsync(cancellationToken);
    }
}
