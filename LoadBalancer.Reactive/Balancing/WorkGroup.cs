using System.Collections.Concurrent;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// Merges the work of every step back into the feed: each work observable's inputs are posted as they come, and
/// its subscription is kept until it completes (a connection's relay can run for hours). Joining and leaving
/// cost the same however many are open, and a posting thread never waits on another: the feed queues. A step
/// whose work cannot be started, or work that fails, is reported and dropped; everything else carries on.
/// Disposing the group disposes all work still running.
/// </summary>
internal sealed class WorkGroup(IObserver<BalancerInput> feed, Action<Exception> onFault) : IDisposable
{
    private readonly IObserver<BalancerInput> _feed = feed;
    private readonly Action<Exception> _onFault = onFault;
    private readonly ConcurrentDictionary<Member, byte> _members = new();
    private volatile bool _disposed;

    /// <summary>Starts the work <paramref name="work"/> makes of <paramref name="step"/>, if any.</summary>
    public void Start(Step step, Func<Step, IObservable<BalancerInput>?> work)
    {
        IObservable<BalancerInput>? produced;
        try
        {
            produced = work(step);
        }
        catch (Exception exception)
        {
            _onFault(exception);
            return;
        }

        if (produced is null || _disposed)
        {
            return;
        }

        var member = new Member(this);
        _members.TryAdd(member, 0);
        IDisposable subscription;
        try
        {
            subscription = produced.Subscribe(member);
        }
        catch (Exception exception)
        {
            member.OnError(exception);
            return;
        }

        member.Keep(subscription);
        if (_disposed)
        {
            member.Dispose();
        }
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var member in _members.Keys)
        {
            member.Dispose();
        }
    }

    // One running piece of work: forwards its inputs until it ends, then leaves the group.
    private sealed class Member(WorkGroup group) : IObserver<BalancerInput>, IDisposable
    {
        // A sentinel of its own: work may well return Rx's shared Disposable.Empty as its subscription.
        private static readonly IDisposable s_ended = new Ended();
        private IDisposable? _subscription;

        public void OnNext(BalancerInput value)
        {
            if (Volatile.Read(ref _subscription) != s_ended)
            {
                group._feed.OnNext(value);
            }
        }

        public void OnError(Exception error)
        {
            group._onFault(error);
            Leave();
        }

        public void OnCompleted() => Leave();

        /// <summary>Keeps the subscription, or disposes it at once if the work has already ended (synchronously).</summary>
        public void Keep(IDisposable subscription)
        {
            if (Interlocked.CompareExchange(ref _subscription, subscription, null) == s_ended)
            {
                subscription.Dispose();
            }
        }

        /// <summary>Ends the work early (the group is disposed).</summary>
        public void Dispose() => Leave();

        private void Leave()
        {
            Interlocked.Exchange(ref _subscription, s_ended)?.Dispose();
            group._members.TryRemove(this, out _);
        }

        private sealed class Ended : IDisposable
        {
            public void Dispose()
            {
            }
        }
    }
}
