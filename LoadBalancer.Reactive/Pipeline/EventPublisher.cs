using LoadBalancer.Reactive.Diagnostics;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Pipeline;

/// <summary>
/// Where each projected event goes, in order: the meters and the statistics (which count every event, before
/// any subscriber could drop one), the log, and the hot stream hosts subscribe to.
/// </summary>
internal sealed class EventPublisher(BalancerMetrics metrics, StatisticsRecorder statistics, BalancerLog log, EventHub hub) : IObserver<LoadBalancerEvent>
{
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the last event has been published and the hub told to complete.</summary>
    public Task Completed => _completed.Task;

    public void OnNext(LoadBalancerEvent value)
    {
        metrics.Record(value);
        statistics.Record(value);
        log.Record(value);
        hub.Publish(value);
    }

    // The stream ends when the balancer has stopped; it fails only by a bug (the fold and the projection throw
    // on nothing), which is logged, and the stream of events ends then too.
    public void OnError(Exception error)
    {
        log.WorkFaulted(error);
        OnCompleted();
    }

    public void OnCompleted()
    {
        hub.Complete();
        _completed.TrySetResult();
    }
}
