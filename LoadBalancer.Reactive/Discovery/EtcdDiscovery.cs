using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Etcdserverpb;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Discovery;

/// <summary>
/// A discovery source over etcd: every key under <c>PREFIX/backends/</c> is one backend, its value JSON
/// (<c>{"address":"10.0.0.5:8080","weight":1,"state":"active","pool":"web"}</c>; <c>state</c> is <c>active</c>,
/// <c>drain</c> or <c>disabled</c>). Feed it to <see cref="TcpLoadBalancer.FollowBackends"/>, or use
/// <see cref="Fleet.EtcdFleet.JoinAsync"/>, which does that and more.
/// </summary>
/// <remarks>
/// The prefix is read once, then watched from the revision after that read; a broken watch resumes from the last
/// revision it saw, so no change is missed or applied twice (a watch whose revisions were compacted away reads the
/// prefix again). While etcd cannot be reached nothing is emitted, so the balancer keeps the members it has; the
/// source retries with back-off (0.25 s doubling to 5 s), going round the endpoints. A key whose value cannot be
/// read as a backend is reported by name and left out; the others apply.
/// </remarks>
public static class EtcdDiscovery
{
    private static readonly TimeSpan s_firstRetry = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan s_lastRetry = TimeSpan.FromSeconds(5);

    /// <summary>Watches the backends under <paramref name="prefix"/>, emitting the whole set whenever it changes.</summary>
    /// <param name="endpoints">The etcd cluster's client URLs (<c>http://127.0.0.1:2379</c>).</param>
    /// <param name="prefix">The fleet's key prefix (<c>/loadbalancer</c>); backends are the keys under <c>PREFIX/backends/</c>.</param>
    /// <param name="scheduler">Times the waits between retries. Default: <see cref="Scheduler.Default"/>.</param>
    /// <param name="report">Told when etcd becomes unavailable or recovers, and of each key ignored; default: nobody.</param>
    /// <returns>The backends in key order; first after the first read. Each subscription opens its own connection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> or <paramref name="prefix"/> is null.</exception>
    /// <exception cref="ArgumentException">No endpoint, or one that is not an http(s) URL; the message names it.</exception>
    public static IObservable<IReadOnlyList<BackendOptions>> Watch(
        IReadOnlyList<string> endpoints, string prefix, IScheduler? scheduler = null, Action<DiscoveryReported>? report = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        EtcdConnection.Validate(endpoints);
        return Watch(() => new EtcdConnection(endpoints), EtcdKeys.Backends(prefix), scheduler ?? Scheduler.Default, report ?? (_ => { }));
    }

    /// <summary>The watch over a connection of the caller's making (a fleet's, or a test's).</summary>
    internal static IObservable<IReadOnlyList<BackendOptions>> Watch(
        Func<EtcdConnection> connect, string backendsPrefix, IScheduler scheduler, Action<DiscoveryReported> report) =>
        Observable.Create<IReadOnlyList<BackendOptions>>(async (observer, cancellationToken) =>
        {
            using var etcd = connect();
            await new BackendWatch(etcd, backendsPrefix, scheduler, report, observer).RunAsync(cancellationToken).ConfigureAwait(false);
        });

    /// <summary>The wait before retry number <paramref name="failures"/> (from 1): 0.25 s, doubling, at most 5 s.</summary>
    internal static TimeSpan Backoff(int failures) =>
        TimeSpan.FromTicks(Math.Min(s_lastRetry.Ticks, s_firstRetry.Ticks << Math.Clamp(failures - 1, 0, 16)));

    /// <summary>One subscription's state: the keys as last seen, the revision they are at, and whether etcd answers.</summary>
    private sealed class BackendWatch(
        EtcdConnection etcd, string prefix, IScheduler scheduler, Action<DiscoveryReported> report, IObserver<IReadOnlyList<BackendOptions>> observer)
    {
        private readonly SortedDictionary<string, string> _entries = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _ignored = new(StringComparer.Ordinal);
        private readonly string _source = $"etcd {prefix}";
        private long _revision;
        private bool? _available;
        private string? _published;

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            var failures = 0;
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    if (_revision == 0)
                    {
                        await ReadAsync(cancellationToken).ConfigureAwait(false);
                    }

                    await WatchAsync(() => failures = 0, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
                {
                    // Whatever broke (refused, reset, timed out, a watch cancelled by the server), the members stay.
                    if (_available != false)
                    {
                        _available = false;
                        Report(DiscoveryReportKind.Unavailable,
                            $"etcd at {etcd.Endpoint} cannot be reached ({Describe(exception)}); keeping the last members and retrying.");
                    }

                    etcd.Next();
                    failures++;
                }
                catch (Exception) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                try
                {
                    if (failures > 0)
                    {
                        await Observable.Timer(Backoff(failures), scheduler).ToTask(cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        private async Task ReadAsync(CancellationToken cancellationToken)
        {
            using var deadline = EtcdConnection.Deadline(cancellationToken);
            var range = await etcd.KV.RangeAsync(
                new RangeRequest { Key = EtcdConnection.Key(prefix), RangeEnd = EtcdConnection.RangeEnd(prefix) },
                cancellationToken: deadline.Token).ConfigureAwait(false);
            _entries.Clear();
            foreach (var kv in range.Kvs)
            {
                _entries[kv.Key.ToStringUtf8()] = kv.Value.ToStringUtf8();
            }

            _revision = range.Header.Revision;
            Answered();
            Publish();
        }

        // Watches from the revision after the last one seen, until the stream breaks (an exception) or the revisions
        // it needs were compacted (then the prefix is read again).
        private async Task WatchAsync(Action answered, CancellationToken cancellationToken)
        {
            using var call = etcd.Watch.Watch(cancellationToken: cancellationToken);
            await call.RequestStream.WriteAsync(new WatchRequest
            {
                CreateRequest = new WatchCreateRequest
                {
                    Key = EtcdConnection.Key(prefix),
                    RangeEnd = EtcdConnection.RangeEnd(prefix),
                    StartRevision = _revision + 1,
                },
            }, cancellationToken).ConfigureAwait(false);

            while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                var response = call.ResponseStream.Current;
                if (response.CompactRevision > 0)
                {
                    _revision = 0;
                    return;
                }

                if (response.Canceled)
                {
                    // Whatever the reason (a revision from before a restore from backup is "in the future" now), the
                    // next attempt reads the whole prefix again rather than asking for the same revision forever.
                    _revision = 0;
                    throw new InvalidOperationException($"the watch was cancelled: {response.CancelReason}");
                }

                answered();
                Answered();
                foreach (var change in response.Events)
                {
                    var key = change.Kv.Key.ToStringUtf8();
                    if (change.Type == Mvccpb.Event.Types.EventType.Delete)
                    {
                        _entries.Remove(key);
                    }
                    else
                    {
                        _entries[key] = change.Kv.Value.ToStringUtf8();
                    }

                    _revision = Math.Max(_revision, change.Kv.ModRevision);
                }

                if (response.Events.Count > 0)
                {
                    Publish();
                }
            }

            throw new IOException("the watch stream ended");
        }

        private void Answered()
        {
            if (_available == false)
            {
                Report(DiscoveryReportKind.Recovered, $"etcd at {etcd.Endpoint} answers again; following from revision {_revision}.");
            }

            _available = true;
        }

        // The set as the keys now say, without the keys that cannot be read (each reported once per value it has).
        private void Publish()
        {
            var set = new List<BackendOptions>(_entries.Count);
            var addresses = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var key in _ignored.Keys.Where(key => !_entries.ContainsKey(key)).ToList())
            {
                _ignored.Remove(key);
            }

            foreach (var (key, value) in _entries)
            {
                var error = string.Empty;
                if (EtcdBackendEntry.TryParse(key, value, out var backend, out error) && !addresses.Add(backend.Address))
                {
                    error = $"Key '{key}': backend '{backend.Address}' is already named by another key.";
                }

                if (error.Length == 0)
                {
                    _ignored.Remove(key);
                    set.Add(backend);
                }
                else if (!_ignored.TryGetValue(key, out var reported) || reported != value)
                {
                    _ignored[key] = value;
                    Report(DiscoveryReportKind.EntryIgnored, error);
                }
            }

            var signature = string.Join("|", set.Select(b => $"{b.Address}@{b.Weight}/{b.State}/{b.Pool}"));
            if (signature != _published)
            {
                _published = signature;
                observer.OnNext(set);
            }
        }

        private void Report(DiscoveryReportKind kind, string message)
        {
            try
            {
                report(new DiscoveryReported(_source, kind, message) { Timestamp = scheduler.Now });
            }
            catch (Exception)
            {
                // A report is news for the host; one that throws must not stop the watch.
            }
        }

        private static string Describe(Exception exception) => exception switch
        {
            Grpc.Core.RpcException rpc => $"{rpc.StatusCode}: {rpc.Status.Detail}",
            OperationCanceledException => "no answer in time",
            _ => exception.Message,
        };
    }
}
