using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Admin;

/// <summary>Backend changes applied to one balancer through its own calls: each is an input to its fold.</summary>
/// <param name="balancer">The balancer to change.</param>
internal sealed class LocalBackendControl(TcpLoadBalancer balancer) : IBackendControl
{
    public Task DrainAsync(string address, CancellationToken cancellationToken = default) => Run(() => balancer.DrainBackend(address));

    public Task DisableAsync(string address, CancellationToken cancellationToken = default) => Run(() => balancer.DisableBackend(address));

    public Task EnableAsync(string address, CancellationToken cancellationToken = default) => Run(() => balancer.EnableBackend(address));

    public Task SetWeightAsync(string address, int weight, CancellationToken cancellationToken = default) =>
        Run(() => balancer.SetWeight(address, weight));

    public Task AddAsync(BackendOptions backend, CancellationToken cancellationToken = default) => Run(() => balancer.AddBackend(backend));

    public Task RemoveAsync(string address, TimeSpan? closeAfter = null, CancellationToken cancellationToken = default) =>
        Run(() => balancer.RemoveBackend(address, closeAfter));

    // The balancer's calls only post an input, so they never wait; a refusal comes back as the task's exception.
    private static Task Run(Action change)
    {
        try
        {
            change();
            return Task.CompletedTask;
        }
        catch (Exception exception) when (exception is ArgumentException or LoadBalancerOptionsException)
        {
            return Task.FromException(exception);
        }
    }
}
