using System.Reactive.Concurrency;

namespace LoadBalancer.Reactive.Transport;

/// <summary>
/// A cancellation token that fires when the caller's token does (an aborted connection, a stopped probe) or when a time limit on the balancer's
/// scheduler runs out (virtual time in tests). Disposing it stops the clock.
/// </summary>
internal sealed class Deadline : IDisposable
{
    private readonly CancellationTokenSource _source;
    private readonly IDisposable _timer;

    public Deadline(TimeSpan timeout, IScheduler scheduler, CancellationToken aborted)
    {
        _source = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        _timer = scheduler.Schedule(timeout, CancelQuietly);
    }

    /// <summary>Cancelled by the abort or by the time limit.</summary>
    public CancellationToken Token => _source.Token;

    public void Dispose()
    {
        _timer.Dispose();
        _source.Dispose();
    }

    // The timer can fire while Dispose runs on another thread.
    private void CancelQuietly()
    {
        try
        {
            _source.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
