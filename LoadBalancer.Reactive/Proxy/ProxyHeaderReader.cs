using System.IO.Pipelines;
using System.Reactive.Concurrency;

namespace LoadBalancer.Reactive.Proxy;

/// <summary>Reads a PROXY header from the front of a client's pipe, within a time limit on the balancer's scheduler.</summary>
internal static class ProxyHeaderReader
{
    /// <summary>
    /// Reads and consumes the header, leaving every byte after it in the pipe for the relay; or says why
    /// there is none (invalid, closed early, too slow). Never throws for anything the client sends.
    /// </summary>
    public static async Task<(ProxyHeader? Header, string? Error)> ReadAsync(
        PipeReader input, TimeSpan timeout, IScheduler scheduler, CancellationToken aborted)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        using var timer = scheduler.Schedule(timeout, () => CancelQuietly(deadline));
        try
        {
            while (true)
            {
                var read = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
                var buffer = read.Buffer;
                switch (ProxyHeaderParser.Parse(buffer, out var header, out var error))
                {
                    case ProxyParseStatus.Parsed:
                        input.AdvanceTo(buffer.GetPosition(header!.Length));
                        return (header, null);
                    case ProxyParseStatus.Invalid:
                        input.AdvanceTo(buffer.Start);
                        return (null, error);
                    default:
                        input.AdvanceTo(buffer.Start, buffer.End);
                        if (read.IsCompleted || read.IsCanceled)
                        {
                            return (null, $"the connection closed after {buffer.Length} bytes, before its PROXY header ended");
                        }

                        break;
                }
            }
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            return (null, $"no whole PROXY header arrived within {Configuration.Durations.Format(timeout)}");
        }
        catch (Exception exception) when (exception is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return (null, $"the connection failed before its PROXY header was read: {exception.Message}");
        }
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
