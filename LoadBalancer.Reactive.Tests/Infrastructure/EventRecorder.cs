using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Tests.Infrastructure;

/// <summary>Records a balancer's events and waits (with a timeout) until the ones a test expects have arrived.</summary>
public sealed class EventRecorder : IDisposable
{
    private readonly List<LoadBalancerEvent> _events = [];
    private readonly Lock _gate = new();
    private readonly IDisposable _subscription;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public EventRecorder(IObservable<LoadBalancerEvent> events) =>
        _subscription = events.Subscribe(Record, _ => Completed = true, () => Completed = true);

    public bool Completed { get; private set; }

    public IReadOnlyList<LoadBalancerEvent> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    public IReadOnlyList<T> OfType<T>() => [.. Events.OfType<T>()];

    /// <summary>Waits until at least <paramref name="count"/> events of type <typeparamref name="T"/> match.</summary>
    public async Task<IReadOnlyList<T>> WaitForAsync<T>(int count = 1, Func<T, bool>? match = null)
        where T : LoadBalancerEvent
    {
        var deadline = DateTime.UtcNow + Loopback.Timeout;
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                var found = _events.OfType<T>().Where(match ?? (_ => true)).ToList();
                if (found.Count >= count)
                {
                    return found;
                }

                changed = _changed.Task;
            }

            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException(
                    $"Expected {count} {typeof(T).Name} event(s); saw: {string.Join(", ", Events)}");
            }

            await Task.WhenAny(changed, Task.Delay(remaining));
        }
    }

    public void Dispose() => _subscription.Dispose();

    private void Record(LoadBalancerEvent @event)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _events.Add(@event);
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.SetResult();
    }
}
