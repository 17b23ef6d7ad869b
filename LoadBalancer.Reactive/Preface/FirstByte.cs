using System.IO.Pipelines;
using System.Reactive.Concurrency;
using LoadBalancer.Reactive.Transport;

namespace LoadBalancer.Reactive.Preface;

/// <summary>Waits for a client's first byte, within a time limit on the balancer's scheduler, reading nothing away.</summary>
internal static class FirstByte
{
    /// <summary>Null once a byte is waiting in the pipe (still unread, for the relay); else why not.</summary>
    /// <param name="input">The client's pipe.</param>
    /// <param name="arrivedUnread">Whether bytes have reached the client's socket that its pipe has not been given yet; asked when the time runs out.</param>
    /// <param name="timeout">How long the client has to send its first byte.</param>
    /// <param name="scheduler">The balancer's clock.</param>
    /// <param name="aborted">Ends the wait when the connection is aborted (the balancer stops).</param>
    public static async Task<string?> WaitAsync(
        PipeReader input, Func<bool> arrivedUnread, TimeSpan timeout, IScheduler scheduler, CancellationToken aborted)
    {
        try
        {
            using (var deadline = new Deadline(timeout, scheduler, aborted))
            {
                try
                {
                    return await PeekAsync(input, deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                {
                    if (!arrivedUnread())
                    {
                        return $"the client sent nothing within {Configuration.Durations.Format(timeout)}";
                    }
                }
            }

            // The client's bytes came in time but a busy balancer was late to read them: not the client's
            // fault, so wait (until an abort) for the pipe to be given them.
            return await PeekAsync(input, aborted).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return $"the client failed before sending a byte: {exception.Message}";
        }
    }

    private static async Task<string?> PeekAsync(PipeReader input, CancellationToken cancellation)
    {
        var read = await input.ReadAsync(cancellation).ConfigureAwait(false);
        var empty = read.Buffer.IsEmpty;
        input.AdvanceTo(read.Buffer.Start);
        return empty ? "the client closed without sending a byte" : null;
    }
}
