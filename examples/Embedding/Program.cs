using System.Reactive.Linq;
using LoadBalancer.Reactive;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;

await using var balancer = new TcpLoadBalancer(new LoadBalancerOptions
{
    Listen = ["127.0.0.1:9000"],
    Backends = [new BackendOptions("127.0.0.1:8081"), new BackendOptions("127.0.0.1:8082", weight: 2)],
});

// Events is a hot IObservable: filter, buffer or ObserveOn it like any other.
using var completions = balancer.Events
    .OfType<ConnectionCompleted>()
    .Subscribe(e => Console.WriteLine(
        $"#{e.ConnectionId} via {e.Backend}: {e.BytesFromClient} B up, {e.BytesFromBackend} B down, {e.Reason}"));

await balancer.StartAsync();
Console.WriteLine($"Balancing on {balancer.ListenEndPoints[0]}; press Enter to stop.");
Console.ReadLine();

// Stop accepting, give open connections five seconds to finish, then cut the rest.
using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
await balancer.StopAsync(deadline.Token);
foreach (var backend in balancer.Snapshot.Backends)
{
    Console.WriteLine($"{backend.Address}: {backend.TotalConnections} connections");
}
