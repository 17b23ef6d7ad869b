using LoadBalancer.Reactive.Diagnostics;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Pipeline;

/// <summary>
/// Projects each step of the fold into the public events (<see cref="EventProjection"/>) and sends each, in
/// order, to the meters and the statistics (which count every event, before any subscriber could drop one),
/// the log, and the hot stream hosts subscribe to.
/// </summary>
internal sealed class EventPublisher : IObserver<Balancing.Step>
{
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly BalancerMetrics _metrics;
    private readonly StatisticsRecorder _statistics;
    private readonly BalancerLog _log;
    private readonly EventHub _hub;
    private readonly Action<LoadBalancerEvent> _publish;
    private readonly Action<string, long, long> _countBytes;

    public EventPublisher(BalancerMetrics metrics, StatisticsRecorder statistics, BalancerLog log, EventHub hub)
    {
        (_metrics, _statistics, _log, _hub) = (metrics, statistics, log, hub);
        _publish = Publish;
        _countBytes = CountBytes;
    }

    /// <summary>Completes once the last event has been published and the hub told to complete.</summary>
    public Task Completed => _completed.Task;

    // Bytes are counted before the events are published, so statistics that show a connection completed show its bytes.
    // The statistics count first: the meters call the host's MeterListener callbacks, which may throw (as in Publish).
    public void OnNext(Balancing.Step value)
    {
        try
        {
            EventProjection.CountBytes(value, _countBytes);
        }
        catch (Exception exception)
        {
            _hub.Publish(new SubscriberFaulted(exception) { Timestamp = value.Input?.Time ?? default });
        }

        EventProjection.Project(value, _publish);
    }

    // The stream ends when the balancer has stopped; it fails only by a bug (the fold and the projection throw
    // on nothing), which is logged, and the stream of events ends then too.
    public void OnError(Exception error)
    {
        _log.WorkFaulted(error);
        OnCompleted();
    }

    public void OnCompleted()
    {
        _hub.Complete();
        _completed.TrySetResult();
    }

    // The meters call MeterListener callbacks and the log calls the host's logger, both code of the host's, on the
    // fold's thread: one that throws is reported to subscribers like a throwing subscriber, and the rest carries on.
    private void Publish(LoadBalancerEvent @event)
    {
        try
        {
            _metrics.Record(@event);
            _statistics.Record(@event);
            _log.Record(@event);
        }
        catch (Exception exception)
        {
            _hub.Publish(new SubscriberFaulted(exception) { Timestamp = @event.Timestamp });
        }

        _hub.Publish(@event);
    }

    private void CountBytes(string backend, long fromClient, long fromBackend)
    {
        _statistics.RecordBytes(backend, fromClient, fromBackend);
        _metrics.RecordBytes(backend, fromClient, fromBackend);
    }
}
