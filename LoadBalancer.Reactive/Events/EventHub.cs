using System.Reactive.Concurrency;
using System.Threading.Channels;

namespace LoadBalancer.Reactive.Events;

/// <summary>
/// The hot observable behind <see cref="TcpLoadBalancer.Events"/>. Publishing never blocks and never
/// throws: each subscriber has its own bounded queue, drained on the thread pool, so a slow
/// subscriber only falls behind (and is told what it missed) and a throwing one only affects itself.
/// </summary>
internal sealed class EventHub : IObservable<LoadBalancerEvent>
{
    private readonly int _capacity;
    private readonly IScheduler _clock;
    private readonly Lock _gate = new();
    private volatile Subscriber[] _subscribers = [];
    private bool _completed;

    public EventHub(int capacity, IScheduler clock)
    {
        _capacity = capacity;
        _clock = clock;
    }

    public void Publish(LoadBalancerEvent @event)
    {
        foreach (var subscriber in _subscribers)
        {
            subscriber.Post(@event);
        }
    }

    /// <summary>Ends every subscription once it has delivered what is queued.</summary>
    public void Complete()
    {
        Subscriber[] subscribers;
        lock (_gate)
        {
            _completed = true;
            subscribers = _subscribers;
            _subscribers = [];
        }

        foreach (var subscriber in subscribers)
        {
            subscriber.Complete();
        }
    }

    public IDisposable Subscribe(IObserver<LoadBalancerEvent> observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        var subscriber = new Subscriber(this, observer, _capacity);
        lock (_gate)
        {
            if (!_completed)
            {
                _subscribers = [.. _subscribers, subscriber];
                subscriber.Start();
                return subscriber;
            }
        }

        observer.OnCompleted();
        return subscriber;
    }

    private void Remove(Subscriber subscriber)
    {
        lock (_gate)
        {
            _subscribers = [.. _subscribers.Where(other => other != subscriber)];
        }
    }

    private sealed class Subscriber(EventHub hub, IObserver<LoadBalancerEvent> observer, int capacity) : IDisposable
    {
        private readonly Channel<LoadBalancerEvent> _queue = Channel.CreateBounded<LoadBalancerEvent>(
            new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

        private long _dropped;
        private volatile bool _disposed;

        public void Start() => _ = Task.Run(DeliverAsync);

        public void Post(LoadBalancerEvent @event)
        {
            // With FullMode.Wait, TryWrite fails instead of waiting when the queue is full.
            if (!_queue.Writer.TryWrite(@event))
            {
                Interlocked.Increment(ref _dropped);
            }
        }

        public void Complete() => _queue.Writer.TryComplete();

        public void Dispose()
        {
            _disposed = true;
            hub.Remove(this);
            _queue.Writer.TryComplete();
        }

        private async Task DeliverAsync()
        {
            var reader = _queue.Reader;
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var @event))
                {
                    ReportDropped();
                    Deliver(@event);
                }
            }

            ReportDropped();
            if (!_disposed)
            {
                try
                {
                    observer.OnCompleted();
                }
                catch (Exception)
                {
                    // Nothing is left to tell: the stream has ended.
                }
            }
        }

        private void ReportDropped()
        {
            var dropped = Interlocked.Exchange(ref _dropped, 0);
            if (dropped > 0)
            {
                Deliver(new EventsDropped(dropped) { Timestamp = hub._clock.Now });
            }
        }

        private void Deliver(LoadBalancerEvent @event)
        {
            if (_disposed)
            {
                return;
            }

            try
            {
                observer.OnNext(@event);
            }
            catch (Exception exception) when (@event is not SubscriberFaulted)
            {
                // Told to everyone, this one included; a fault while handling that report is not
                // reported again, so a subscriber that always throws cannot start a storm.
                hub.Publish(new SubscriberFaulted(exception) { Timestamp = @event.Timestamp });
            }
            catch (Exception)
            {
                // A subscriber that throws on a fault report: already reported once.
            }
        }
    }
}
