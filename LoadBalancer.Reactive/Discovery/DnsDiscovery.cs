using System.Net;
using System.Net.Sockets;
using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Discovery;

/// <summary>
/// A discovery source over DNS: backends written <c>name:port</c> are re-resolved every interval, and each
/// address a name resolves to becomes a backend (with the weight, limits and health check it was given).
/// Feed it to <see cref="TcpLoadBalancer.FollowBackends"/>: addresses that appear join, and addresses that
/// disappear are drained and leave. Backends written as IP addresses pass through unchanged.
/// </summary>
public static class DnsDiscovery
{
    /// <summary>Resolves the names now and then every <paramref name="interval"/>, emitting the backend set whenever it changes.</summary>
    /// <param name="backends">The backends, some written <c>name:port</c>.</param>
    /// <param name="interval">Time between resolutions.</param>
    /// <param name="scheduler">Times the interval. Default: <see cref="Scheduler.Default"/>.</param>
    /// <param name="resolve">Resolves a host name (default: the system resolver). A name that fails to resolve keeps the addresses it had.</param>
    /// <returns>The full set of backends, with names replaced by addresses; first after the first resolution.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="backends"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="interval"/> is not positive.</exception>
    public static IObservable<IReadOnlyList<BackendOptions>> Watch(
        IReadOnlyList<BackendOptions> backends,
        TimeSpan interval,
        IScheduler? scheduler = null,
        Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null)
    {
        ArgumentNullException.ThrowIfNull(backends);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        scheduler ??= Scheduler.Default;
        resolve ??= (host, cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);

        return Observable.Create<IReadOnlyList<BackendOptions>>((observer, cancellationToken) =>
            RunAsync(backends, interval, scheduler, resolve, observer, cancellationToken));
    }

    /// <summary>Whether any backend is written with a host name rather than an IP address.</summary>
    public static bool HasHostNames(IEnumerable<BackendOptions> backends) =>
        backends.Any(backend => EndPointParser.TryParse(backend.Address, allowPortZero: false, out var endPoint, out _) && endPoint is DnsEndPoint);

    private static async Task RunAsync(
        IReadOnlyList<BackendOptions> backends, TimeSpan interval, IScheduler scheduler,
        Func<string, CancellationToken, Task<IPAddress[]>> resolve, IObserver<IReadOnlyList<BackendOptions>> observer,
        CancellationToken cancellationToken)
    {
        var known = new Dictionary<string, IPAddress[]>(StringComparer.OrdinalIgnoreCase);
        string? last = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            var set = new List<BackendOptions>();
            foreach (var backend in backends)
            {
                if (!EndPointParser.TryParse(backend.Address, allowPortZero: false, out var endPoint, out _) || endPoint is not DnsEndPoint dns)
                {
                    set.Add(backend);
                    continue;
                }

                try
                {
                    known[dns.Host] = [.. (await resolve(dns.Host, cancellationToken).ConfigureAwait(false))
                        .Where(address => address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
                        .Distinct()
                        .OrderBy(address => address.ToString(), StringComparer.Ordinal)];
                }
                catch (Exception exception) when (exception is SocketException or OperationCanceledException or ArgumentException)
                {
                    // A failed lookup is a DNS blip more often than a service gone: keep what it had.
                    if (cancellationToken.IsCancellationRequested)
                    {
                        return;
                    }
                }

                foreach (var address in known.GetValueOrDefault(dns.Host, []))
                {
                    set.Add(backend with { Address = new IPEndPoint(address, dns.Port).ToString() });
                }
            }

            var signature = string.Join("|", set.Select(backend => $"{backend.Address}@{backend.Weight}"));
            if (signature != last)
            {
                last = signature;
                observer.OnNext(set);
            }

            try
            {
                await Observable.Timer(interval, scheduler).ToTask(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
