using System.Buffers;
using System.IO.Pipelines;
using System.Reactive.Concurrency;
using LoadBalancer.Reactive.Transport;

namespace LoadBalancer.Reactive.Preface;

/// <summary>Parses what a client sends first from the front of its pipe, or says why not.</summary>
internal delegate PrefaceStatus PrefaceParser<T>(ReadOnlySequence<byte> buffer, out T? value, out string? error)
    where T : class;

/// <summary>
/// Reads what a client sends before its connection is balanced (a PROXY header, a TLS ClientHello) from the
/// client's pipe, within a time limit on the balancer's scheduler. Whatever is not consumed stays in the
/// pipe for the relay, so a peeked ClientHello is relayed untouched.
/// </summary>
internal static class PrefaceReader
{
    /// <summary>The parsed value, or why there is none (invalid, closed early, too slow); never throws for what a client sends.</summary>
    /// <param name="input">The client's pipe.</param>
    /// <param name="parse">The parser.</param>
    /// <param name="consumed">How many of the parsed value's bytes to take out of the pipe (0 to peek).</param>
    /// <param name="timeout">How long the whole of it may take to arrive.</param>
    /// <param name="scheduler">Times <paramref name="timeout"/>.</param>
    /// <param name="aborted">The balancer cutting the connection.</param>
    /// <param name="what">What is read, for messages ("PROXY header").</param>
    public static async Task<(T? Value, string? Error)> ReadAsync<T>(
        PipeReader input, PrefaceParser<T> parse, Func<T, int> consumed, TimeSpan timeout, IScheduler scheduler, CancellationToken aborted, string what)
        where T : class
    {
        using var deadline = new Deadline(timeout, scheduler, aborted);
        try
        {
            while (true)
            {
                var read = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
                var buffer = read.Buffer;
                switch (parse(buffer, out var value, out var error))
                {
                    case PrefaceStatus.Parsed:
                        input.AdvanceTo(buffer.GetPosition(consumed(value!)));
                        return (value, null);
                    case PrefaceStatus.Invalid:
                        input.AdvanceTo(buffer.Start);
                        return (null, error);
                    default:
                        input.AdvanceTo(buffer.Start, buffer.End);
                        if (read.IsCompleted || read.IsCanceled)
                        {
                            return (null, $"the connection closed after {buffer.Length} bytes, before its {what} ended");
                        }

                        break;
                }
            }
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            return (null, $"no whole {what} arrived within {Configuration.Durations.Format(timeout)}");
        }
        catch (Exception exception) when (exception is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return (null, $"the connection failed before its {what} was read: {exception.Message}");
        }
    }
}
