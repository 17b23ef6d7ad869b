using System.IO.Pipelines;
using System.Reactive.Concurrency;

namespace LoadBalancer.Reactive.Relaying;

/// <summary>Waits for a client's first byte, within a time limit on the balancer's scheduler, reading nothing away.</summary>
internal static class FirstByte
{
    /// <summary>Null once a byte is waiting in the pipe (still unread, for the relay); else why not.</summary>
    public static async Task<string?> WaitAsync(PipeReader input, TimeSpan timeout, IScheduler scheduler, CancellationToken aborted)
    {
        using var deadline = new Deadline(timeout, scheduler, aborted);
        try
        {
            var read = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
            var empty = read.Buffer.IsEmpty;
            input.AdvanceTo(read.Buffer.Start);
            return empty ? "the client closed without sending a byte" : null;
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            return $"the client sent nothing within {Configuration.Durations.Format(timeout)}";
        }
        catch (Exception exception) when (exception is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return $"the client failed before sending a byte: {exception.Message}";
        }
    }
}
