using System.Reactive.Concurrency;
using System.Reactive.Linq;
using Etcdserverpb;
using Google.Protobuf;
using LoadBalancer.Reactive.Admin;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Discovery;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Fleet;

/// <summary>
/// A balancer's membership of a fleet coordinated through etcd: it follows the backends stored under the fleet's
/// prefix (see <see cref="EtcdDiscovery"/>), registers itself as a live instance under a lease, and offers the
/// operator's calls (drain, disable, enable, weight, add, remove) as writes to etcd, which every instance of the
/// fleet applies from its watch. Dispose it to leave the fleet.
/// </summary>
/// <example>
/// <code>
/// await balancer.StartAsync();
/// await using var fleet = await EtcdFleet.JoinAsync(balancer, new EtcdFleetOptions { Endpoints = ["http://127.0.0.1:2379"] });
/// await fleet.DrainBackendAsync("10.0.0.5:8080"); // every instance stops sending it new connections
/// </code>
/// </example>
public sealed class EtcdFleet : IAsyncDisposable, IBackendControl
{
    private readonly TcpLoadBalancer _balancer;
    private readonly EtcdConnection _etcd;
    private readonly string _prefix;
    private readonly InstanceRegistration _registration;
    private readonly CancellationTokenSource _stop = new();
    private readonly IDisposable _following;
    private readonly Task _registering;
    private int _disposed;

    private EtcdFleet(TcpLoadBalancer balancer, EtcdFleetOptions options, string name, IScheduler scheduler, IObservable<IReadOnlyList<BackendOptions>> backends)
    {
        Name = name;
        _balancer = balancer;
        _prefix = options.Prefix;
        _etcd = new EtcdConnection(options.Endpoints);
        _following = balancer.FollowBackends(backends);
        _registration = new InstanceRegistration(
            _etcd,
            EtcdKeys.Instances(options.Prefix) + name,
            options.LeaseTtl,
            () => Describe(balancer, name, scheduler),
            scheduler);
        _registering = Task.Run(() => _registration.RunAsync(_stop.Token));
    }

    /// <summary>This instance's name in the fleet.</summary>
    public string Name { get; }

    /// <summary>
    /// Joins a started balancer to the fleet: its members become the backends stored in etcd (followed live; while
    /// etcd is unreachable it keeps the members it has and reports a <see cref="DiscoveryReported"/>), and it
    /// registers itself under <c>PREFIX/instances/NAME</c>. Completes once the backends were read and the instance
    /// registered, or etcd was found unreachable (the balancer then serves its configured backends and keeps trying).
    /// </summary>
    /// <param name="balancer">A started balancer.</param>
    /// <param name="options">Where etcd is, the prefix, this instance's name.</param>
    /// <param name="scheduler">Times keep-alives and retries. Default: <see cref="Scheduler.Default"/>.</param>
    /// <param name="cancellationToken">Cancels waiting for the first read (the fleet is left).</param>
    /// <returns>The membership; dispose it to leave the fleet (the instance's key goes at once).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="balancer"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    /// <exception cref="InvalidOperationException">The balancer is not started.</exception>
    public static async Task<EtcdFleet> JoinAsync(
        TcpLoadBalancer balancer, EtcdFleetOptions options, IScheduler? scheduler = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(balancer);
        ArgumentNullException.ThrowIfNull(options);
        var name = options.Name ?? DefaultName;
        Validate(options, name);
        if (balancer.ListenEndPoints.Count == 0)
        {
            throw new InvalidOperationException("Start the balancer before it joins a fleet: its listen endpoints are registered.");
        }

        scheduler ??= Scheduler.Default;
        var firstRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var backends = EtcdDiscovery.Watch(
                () => new EtcdConnection(options.Endpoints),
                EtcdKeys.Backends(options.Prefix),
                scheduler,
                report =>
                {
                    balancer.Report(report);
                    if (report.Kind == DiscoveryReportKind.Unavailable)
                    {
                        firstRead.TrySetResult();
                    }
                })
            .Do(_ => firstRead.TrySetResult());
        var fleet = new EtcdFleet(balancer, options, name, scheduler, backends);
        try
        {
            await Task.WhenAll(firstRead.Task, fleet._registration.FirstAttempt).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await fleet.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return fleet;
    }

    /// <summary>
    /// Reads the fleet's backends once, without joining: what a balancer about to join can be configured with, so
    /// that it serves the fleet's backends from its first connection. Keys that cannot be read are left out.
    /// </summary>
    /// <param name="options">Where etcd is and the prefix.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The backends in key order; empty when none is stored.</returns>
    /// <exception cref="ArgumentException">An endpoint is not an http(s) URL; the message names it.</exception>
    /// <exception cref="Grpc.Core.RpcException">etcd cannot be reached (the message names the status).</exception>
    public static async Task<IReadOnlyList<BackendOptions>> ReadBackendsAsync(EtcdFleetOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var etcd = new EtcdConnection(options.Endpoints);
        var prefix = EtcdKeys.Backends(options.Prefix);
        using var deadline = EtcdConnection.Deadline(cancellationToken);
        var range = await etcd.KV.RangeAsync(new RangeRequest { Key = EtcdConnection.Key(prefix), RangeEnd = EtcdConnection.RangeEnd(prefix) },
            cancellationToken: deadline.Token).ConfigureAwait(false);
        var backends = new List<BackendOptions>();
        foreach (var kv in range.Kvs)
        {
            if (EtcdBackendEntry.TryParse(kv.Key.ToStringUtf8(), kv.Value.ToStringUtf8(), out var backend, out _)
                && !backends.Any(b => string.Equals(b.Address, backend.Address, StringComparison.OrdinalIgnoreCase)))
            {
                backends.Add(backend);
            }
        }

        return backends;
    }

    /// <summary>Adds a backend to the fleet (or replaces the stored one with the same address).</summary>
    /// <param name="backend">Its address, weight, state and pool (other settings are not shared through etcd).</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="LoadBalancerOptionsException">The backend is invalid; the message says why.</exception>
    public async Task AddBackendAsync(BackendOptions backend, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var errors = LoadBalancerOptionsValidator.ValidateBackends([backend], "Backend");
        if (errors.Count > 0)
        {
            throw new LoadBalancerOptionsException(errors);
        }

        var stored = await FindAsync(backend.Address, cancellationToken).ConfigureAwait(false);
        var key = stored?.Key ?? EtcdKeys.Backend(_prefix, backend.Address);
        using var deadline = EtcdConnection.Deadline(cancellationToken);
        await _etcd.KV.PutAsync(new PutRequest { Key = EtcdConnection.Key(key), Value = ByteString.CopyFromUtf8(EtcdBackendEntry.Write(backend)) },
            cancellationToken: deadline.Token).ConfigureAwait(false);
    }

    /// <summary>Removes a backend from the fleet: every instance drains it, and it leaves once its connections end.</summary>
    /// <param name="address">The backend's address.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ArgumentException">No backend stored in etcd has that address.</exception>
    public async Task RemoveBackendAsync(string address, CancellationToken cancellationToken = default)
    {
        var stored = await FindAsync(address, cancellationToken).ConfigureAwait(false) ?? throw Unknown(address);
        using var deadline = EtcdConnection.Deadline(cancellationToken);
        await _etcd.KV.DeleteRangeAsync(new DeleteRangeRequest { Key = EtcdConnection.Key(stored.Key) }, cancellationToken: deadline.Token)
            .ConfigureAwait(false);
    }

    /// <summary>Drains a backend on every instance: no new connections, open ones finish.</summary>
    /// <param name="address">The backend's address.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ArgumentException">No backend stored in etcd has that address.</exception>
    public Task DrainBackendAsync(string address, CancellationToken cancellationToken = default) =>
        ChangeAsync(address, backend => backend with { State = BackendState.Draining }, cancellationToken);

    /// <summary>Puts a backend in maintenance on every instance: no new connections, no probes; open ones carry on.</summary>
    /// <param name="address">The backend's address.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ArgumentException">No backend stored in etcd has that address.</exception>
    public Task DisableBackendAsync(string address, CancellationToken cancellationToken = default) =>
        ChangeAsync(address, backend => backend with { State = BackendState.Disabled }, cancellationToken);

    /// <summary>Puts a draining or disabled backend back in service on every instance.</summary>
    /// <param name="address">The backend's address.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ArgumentException">No backend stored in etcd has that address.</exception>
    public Task EnableBackendAsync(string address, CancellationToken cancellationToken = default) =>
        ChangeAsync(address, backend => backend with { State = BackendState.Active }, cancellationToken);

    /// <summary>Changes a backend's weight on every instance.</summary>
    /// <param name="address">The backend's address.</param>
    /// <param name="weight">The new weight, 0 to 10,000.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ArgumentException">No backend stored in etcd has that address.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The weight is outside 0-10,000.</exception>
    public Task SetWeightAsync(string address, int weight, CancellationToken cancellationToken = default)
    {
        if (weight is < 0 or > LoadBalancerOptionsValidator.MaxWeight)
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, $"Backend '{address}' weight must be 0-{LoadBalancerOptionsValidator.MaxWeight}.");
        }

        return ChangeAsync(address, backend => backend with { Weight = weight }, cancellationToken);
    }

    /// <summary>
    /// The runtime API of this instance in fleet mode: <c>drain</c>, <c>disable</c>, <c>enable</c>, <c>set weight</c>,
    /// <c>add backend</c> and <c>remove backend</c> write to etcd, so every instance applies them (once, for the
    /// fleet); the <c>show</c> commands show this instance; <c>show instances</c> lists the fleet's live instances.
    /// </summary>
    /// <returns>The command set, to serve with <see cref="RuntimeApiListener"/> or a host's HTTP endpoints.</returns>
    public RuntimeApi CreateRuntimeApi()
    {
        var api = new RuntimeApi(_balancer, this);
        api.AddCommand(new RuntimeCommand(
            "show instances",
            "show instances",
            "the fleet's live instances: name, listen endpoints, active and total connections, last report",
            async (_, cancellationToken) => FleetViews.Instances(await ListInstancesAsync(cancellationToken).ConfigureAwait(false), Name)));
        return api;
    }

    /// <summary>The fleet's live instances (this one among them), by name; an instance whose lease ran out is gone.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<IReadOnlyList<FleetInstance>> ListInstancesAsync(CancellationToken cancellationToken = default)
    {
        var prefix = EtcdKeys.Instances(_prefix);
        using var deadline = EtcdConnection.Deadline(cancellationToken);
        var range = await _etcd.KV.RangeAsync(new RangeRequest { Key = EtcdConnection.Key(prefix), RangeEnd = EtcdConnection.RangeEnd(prefix) },
            cancellationToken: deadline.Token).ConfigureAwait(false);
        return [.. range.Kvs.Select(kv => InstanceEntry.Read(kv.Value.ToStringUtf8())).OfType<FleetInstance>().OrderBy(i => i.Name, StringComparer.Ordinal)];
    }

    /// <summary>Leaves the fleet: stops following etcd (the members stay as they are) and removes this instance's key.</summary>
    public async ValueTask DisposeAsync()
    {
        if (await StopAsync().ConfigureAwait(false))
        {
            await _registration.RevokeAsync().ConfigureAwait(false);
            _etcd.Dispose();
        }
    }

    /// <summary>Stops as a crash would, for tests: no more keep-alives, and the lease is left to run out.</summary>
    internal async Task AbandonAsync()
    {
        if (await StopAsync().ConfigureAwait(false))
        {
            _etcd.Dispose();
        }
    }

    private async Task<bool> StopAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return false;
        }

        _following.Dispose();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _registering.ConfigureAwait(false);
        _stop.Dispose();
        return true;
    }

    // Read, change, and write back only if nobody wrote the key meanwhile (else read again): two operators' calls
    // on the same backend both take effect.
    private async Task ChangeAsync(string address, Func<BackendOptions, BackendOptions> change, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var stored = await FindAsync(address, cancellationToken).ConfigureAwait(false) ?? throw Unknown(address);
            var key = EtcdConnection.Key(stored.Key);
            using var deadline = EtcdConnection.Deadline(cancellationToken);
            var written = await _etcd.KV.TxnAsync(new TxnRequest
            {
                Compare = { new Compare { Key = key, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = stored.ModRevision } },
                Success = { new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFromUtf8(EtcdBackendEntry.Write(change(stored.Backend))) } } },
            }, cancellationToken: deadline.Token).ConfigureAwait(false);
            if (written.Succeeded)
            {
                return;
            }

            if (attempt == 10)
            {
                throw new InvalidOperationException($"Backend '{address}' was changed by others at every one of 10 attempts; nothing was written.");
            }
        }
    }

    private async Task<(string Key, long ModRevision, BackendOptions Backend)?> FindAsync(string address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        var prefix = EtcdKeys.Backends(_prefix);
        using var deadline = EtcdConnection.Deadline(cancellationToken);
        var range = await _etcd.KV.RangeAsync(new RangeRequest { Key = EtcdConnection.Key(prefix), RangeEnd = EtcdConnection.RangeEnd(prefix) },
            cancellationToken: deadline.Token).ConfigureAwait(false);
        foreach (var kv in range.Kvs)
        {
            var key = kv.Key.ToStringUtf8();
            if (EtcdBackendEntry.TryParse(key, kv.Value.ToStringUtf8(), out var backend, out _)
                && string.Equals(backend.Address, address, StringComparison.OrdinalIgnoreCase))
            {
                return (key, kv.ModRevision, backend);
            }
        }

        return null;
    }

    private ArgumentException Unknown(string address) =>
        new($"No backend '{address}' is stored in etcd under '{EtcdKeys.Backends(_prefix)}'.", nameof(address));

    private static FleetInstance Describe(TcpLoadBalancer balancer, string name, IScheduler scheduler)
    {
        var statistics = balancer.Statistics;
        return new FleetInstance(
            name, [.. balancer.ListenEndPoints.Select(endPoint => endPoint.ToString())], statistics.ActiveConnections, statistics.TotalConnections, scheduler.Now);
    }

    /// <summary>What is wrong with <paramref name="options"/> (naming the setting), or null when they can join a fleet.</summary>
    internal static string? Problem(EtcdFleetOptions options)
    {
        try
        {
            Validate(options, options.Name ?? DefaultName);
            return null;
        }
        catch (ArgumentException exception)
        {
            return exception.Message.Replace($" (Parameter '{exception.ParamName}')", string.Empty, StringComparison.Ordinal);
        }
    }

    private static string DefaultName => $"{Environment.MachineName}-{Environment.ProcessId}";

    private static void Validate(EtcdFleetOptions options, string name)
    {
        EtcdConnection.Validate(options.Endpoints ?? throw new ArgumentException("Endpoints must list at least one etcd URL.", nameof(options)));
        if (string.IsNullOrWhiteSpace(options.Prefix))
        {
            throw new ArgumentException("Prefix must not be empty.", nameof(options));
        }

        if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new ArgumentException($"Name '{name}' must be letters, digits, '.', '_' or '-', and not empty.", nameof(options));
        }

        if (options.LeaseTtl < TimeSpan.FromSeconds(2) || options.LeaseTtl.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            throw new ArgumentException($"LeaseTtl {options.LeaseTtl} must be whole seconds, at least 2.", nameof(options));
        }
    }

    Task IBackendControl.DrainAsync(string address, CancellationToken cancellationToken) => DrainBackendAsync(address, cancellationToken);

    Task IBackendControl.DisableAsync(string address, CancellationToken cancellationToken) => DisableBackendAsync(address, cancellationToken);

    Task IBackendControl.EnableAsync(string address, CancellationToken cancellationToken) => EnableBackendAsync(address, cancellationToken);

    Task IBackendControl.SetWeightAsync(string address, int weight, CancellationToken cancellationToken) => SetWeightAsync(address, weight, cancellationToken);

    Task IBackendControl.AddAsync(BackendOptions backend, CancellationToken cancellationToken) => AddBackendAsync(backend, cancellationToken);

    // A removal through etcd drains the backend on every instance and it leaves once idle; cutting connections after a
    // deadline is a per-instance matter, not shared through the store.
    Task IBackendControl.RemoveAsync(string address, TimeSpan? closeAfter, CancellationToken cancellationToken) =>
        closeAfter is null
            ? RemoveBackendAsync(address, cancellationToken)
            : throw new ArgumentException($"close-after is not shared through etcd: remove backend {address} without it, for the whole fleet.", nameof(closeAfter));
}
