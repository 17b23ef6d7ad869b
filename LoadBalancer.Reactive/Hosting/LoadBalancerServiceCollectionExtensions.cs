using System.Diagnostics.Metrics;
using LoadBalancer.Reactive.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace LoadBalancer.Reactive.Hosting;

/// <summary>Runs a <see cref="TcpLoadBalancer"/> in a .NET Generic Host.</summary>
public static partial class LoadBalancerServiceCollectionExtensions
{
    /// <summary>
    /// Registers a balancer configured from <paramref name="configuration"/> (see <see cref="LoadBalancerConfiguration"/>)
    /// as a singleton and as a hosted service: it starts with the host, and when the host stops it stops
    /// accepting and lets open connections finish until the host's shutdown timeout. Inject
    /// <see cref="TcpLoadBalancer"/> to subscribe to its events or change its backends. Invalid settings fail
    /// the host's start with every problem listed.
    /// </summary>
    /// <remarks>
    /// The balancer follows its configuration: when the section reloads (a JSON file with <c>reloadOnChange</c>, say),
    /// it is read again and applied with <see cref="TcpLoadBalancer.Reconfigure"/>, live where it can be. A change that
    /// is invalid is logged as an Error with every problem, and nothing of it is applied; each setting that changed but
    /// needs a restart is logged as a Warning naming its key.
    /// </remarks>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The section holding the balancer's settings, such as <c>configuration.GetSection("LoadBalancer")</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddTcpLoadBalancer(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddTcpLoadBalancer(_ => LoadBalancerConfiguration.Read(configuration));
        services.AddHostedService(provider => new ConfigurationReload(
            configuration, provider.GetRequiredService<TcpLoadBalancer>(), provider.GetService<ILogger<TcpLoadBalancer>>()));
        return services;
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

    /// <summary>
    /// Joins the hosted balancer (registered first, with <c>AddTcpLoadBalancer</c>) to a fleet coordinated through etcd,
    /// configured from <paramref name="configuration"/> (see <see cref="LoadBalancerConfiguration.ReadFleet"/>): once the
    /// host has started the balancer its members follow the fleet's backends and it registers as a live instance; when
    /// the host stops, it leaves the fleet first. Inject <see cref="HostedFleet"/> to reach the fleet. Invalid settings
    /// fail the host's start with every problem listed.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The fleet's section, such as <c>configuration.GetSection("Etcd")</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddTcpLoadBalancerFleet(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddSingleton(provider =>
        {
            var name = provider.GetRequiredService<TcpLoadBalancer>().Options.Name;
            return new HostedFleet(LoadBalancerConfiguration.ReadFleet(configuration, name == new LoadBalancerOptions().Name ? null : name));
        });
        services.AddHostedService(provider => new FleetMembership(provider.GetRequiredService<TcpLoadBalancer>(), provider.GetRequiredService<HostedFleet>()));
        return services;
    }

    // Started after the balancer's hosted service (hosted services start in order, and stop in reverse).
    private sealed class FleetMembership(TcpLoadBalancer balancer, HostedFleet hosted) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken) =>
            hosted.Joined(await Fleet.EtcdFleet.JoinAsync(balancer, hosted.Options, cancellationToken: cancellationToken).ConfigureAwait(false));

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            // The host stops every registered service, this one too when joining failed or was cancelled.
            if (hosted.Leave() is { } fleet)
            {
                await fleet.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private sealed class LoadBalancerHostedService(TcpLoadBalancer balancer) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => balancer.StartAsync(cancellationToken);

        // The host cancels the token at its shutdown timeout: that is the drain deadline.
        public Task StopAsync(CancellationToken cancellationToken) => balancer.StopAsync(cancellationToken);
    }

    // Started after the balancer (hosted services start in order): each reload of the section is read and applied. A
    // reload token fires on the configuration provider's thread, so nothing may throw out of it.
    private sealed partial class ConfigurationReload(IConfiguration configuration, TcpLoadBalancer balancer, ILogger? logger) : IHostedService
    {
        private readonly ILogger _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        private IDisposable? _watch;

        public Task StartAsync(CancellationToken cancellationToken)
        {
            _watch = ChangeToken.OnChange(configuration.GetReloadToken, Reload);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            _watch?.Dispose();
            return Task.CompletedTask;
        }

        // What changed is logged by the balancer itself (its ConfigurationChanged event: what was applied at
        // Information, each key that needs a restart as a Warning); only a change that cannot be applied is logged here.
        private void Reload()
        {
            try
            {
                balancer.Reconfigure(LoadBalancerConfiguration.Read(configuration));
            }
            catch (LoadBalancerOptionsException exception)
            {
                LogInvalid(_logger, exception.Errors.Count, string.Join("; ", exception.Errors));
            }
            catch (Exception exception)
            {
                LogFailed(_logger, exception);
            }
        }

        [LoggerMessage(5, LogLevel.Error, "Configuration reload rejected, nothing of it applied; {Count} problem(s): {Errors}")]
        private static partial void LogInvalid(ILogger logger, int count, string errors);

        [LoggerMessage(6, LogLevel.Error, "Configuration reload failed, nothing of it applied")]
        private static partial void LogFailed(ILogger logger, Exception exception);
    }
}
