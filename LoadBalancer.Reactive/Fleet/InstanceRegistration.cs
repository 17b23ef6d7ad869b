using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Etcdserverpb;
using Grpc.Core;
using LoadBalancer.Reactive.Discovery;

namespace LoadBalancer.Reactive.Fleet;

/// <summary>
/// Keeps an instance's key alive under a lease: granted once (again if it expired while etcd was away), kept alive
/// every third of its TTL, with the instance's entry written again each time so its stats stay fresh. A crashed
/// instance stops the keep-alives, and etcd deletes its key when the lease runs out.
/// </summary>
/// <param name="etcd">The connection to use.</param>
/// <param name="key">The instance's key.</param>
/// <param name="ttl">The lease's time to live.</param>
/// <param name="describe">The instance's entry now.</param>
/// <param name="scheduler">Times the keep-alives and the retries.</param>
internal sealed class InstanceRegistration(EtcdConnection etcd, string key, TimeSpan ttl, Func<FleetInstance> describe, IScheduler scheduler)
{
    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lease;

    /// <summary>Completes once the first registration was written, or failed (it is retried).</summary>
    public Task FirstAttempt => _firstAttempt.Task;

    /// <summary>Runs until cancelled; failures are retried with back-off, never thrown.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                await RefreshAsync(cancellationToken).ConfigureAwait(false);
                failures = 0;
                wait = ttl / 3;
            }
            catch (RpcException exception) when (exception.StatusCode == StatusCode.NotFound && !cancellationToken.IsCancellationRequested)
            {
                // The lease ran out while etcd could not be reached: take a new one at once.
                Interlocked.Exchange(ref _lease, 0);
                wait = TimeSpan.Zero;
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                etcd.Next();
                wait = EtcdDiscovery.Backoff(++failures);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            finally
            {
                _firstAttempt.TrySetResult();
            }

            try
            {
                await Observable.Timer(wait, scheduler).ToTask(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Gives the lease back, so the key goes at once (a clean stop); best effort.</summary>
    public async Task RevokeAsync()
    {
        var lease = Interlocked.Exchange(ref _lease, 0);
        if (lease == 0)
        {
            return;
        }

        try
        {
            using var deadline = EtcdConnection.Deadline(CancellationToken.None);
            await etcd.Lease.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, cancellationToken: deadline.Token).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is RpcException or OperationCanceledException)
        {
            // etcd is away: the lease runs out by itself.
        }
    }

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        using var deadline = EtcdConnection.Deadline(cancellationToken);
        var lease = Interlocked.Read(ref _lease);
        if (lease == 0)
        {
            var granted = await etcd.Lease.LeaseGrantAsync(
                new LeaseGrantRequest { TTL = (long)Math.Ceiling(ttl.TotalSeconds) }, cancellationToken: deadline.Token).ConfigureAwait(false);
            lease = granted.ID;
            Interlocked.Exchange(ref _lease, lease);
        }
        else
        {
            using var call = etcd.Lease.LeaseKeepAlive(cancellationToken: deadline.Token);
            await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = lease }, deadline.Token).ConfigureAwait(false);
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            if (!await call.ResponseStream.MoveNext(deadline.Token).ConfigureAwait(false) || call.ResponseStream.Current.TTL <= 0)
            {
                throw new RpcException(new Status(StatusCode.NotFound, $"lease {lease} has expired"));
            }
        }

        await etcd.KV.PutAsync(
            new PutRequest { Key = EtcdConnection.Key(key), Value = Google.Protobuf.ByteString.CopyFromUtf8(InstanceEntry.Write(describe())), Lease = lease },
            cancellationToken: deadline.Token).ConfigureAwait(false);
    }
}
