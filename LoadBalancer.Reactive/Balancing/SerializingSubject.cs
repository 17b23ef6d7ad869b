using System.Collections.Concurrent;
using System.Reactive.Subjects;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The one serialized stream the fold reads. Any thread may call <see cref="OnNext"/>; values reach
/// the single subscriber one at a time, in the order they were queued, and never reentrantly.
/// </summary>
/// <remarks>
/// Unlike <c>Synchronize()</c>, a producer never waits: if another thread is delivering, the value is
/// queued and that thread delivers it. A value produced while delivering (say, a relay whose connect
/// fails synchronously inside the decision handler) is delivered after the current one returns,
/// never in the middle of it. That is what keeps <c>Scan</c> from being entered twice at once.
/// </remarks>
internal sealed class SerializingSubject<T> : ISubject<T>
{
    private readonly ConcurrentQueue<T> _queue = new();
    private IObserver<T>? _observer;
    private int _pending;
    private Exception? _error;
    private volatile bool _terminated;
    private bool _terminalDelivered;

    public void OnNext(T value)
    {
        if (_terminated)
        {
            return;
        }

        _queue.Enqueue(value);
        Drain();
    }

    public void OnError(Exception error)
    {
        _error = error;
        _terminated = true;
        Drain();
    }

    public void OnCompleted()
    {
        _terminated = true;
        Drain();
    }

    public IDisposable Subscribe(IObserver<T> observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        if (Interlocked.CompareExchange(ref _observer, observer, null) is not null)
        {
            throw new InvalidOperationException("The fold's event stream takes exactly one subscriber.");
        }

        Drain();
        return new Subscription(this, observer);
    }

    private void Drain()
    {
        // Whoever moves _pending from 0 to 1 delivers, until it has caught up with every increment.
        if (Interlocked.Increment(ref _pending) != 1)
        {
            return;
        }

        var missed = 1;
        try
        {
            while (true)
            {
                var observer = Volatile.Read(ref _observer);
                if (observer is not null)
                {
                    while (Volatile.Read(ref _observer) == observer && _queue.TryDequeue(out var value))
                    {
                        observer.OnNext(value);
                    }

                    if (_terminated && _queue.IsEmpty && !_terminalDelivered)
                    {
                        _terminalDelivered = true;
                        if (_error is { } error)
                        {
                            observer.OnError(error);
                        }
                        else
                        {
                            observer.OnCompleted();
                        }
                    }
                }

                missed = Interlocked.Add(ref _pending, -missed);
                if (missed == 0)
                {
                    return;
                }
            }
        }
        catch
        {
            // A throwing subscriber must not leave the stream stuck "busy" forever: let the next
            // producer deliver what is still queued.
            Volatile.Write(ref _pending, 0);
            throw;
        }
    }

    private sealed class Subscription(SerializingSubject<T> subject, IObserver<T> observer) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref subject._observer, null, observer);
    }
}
