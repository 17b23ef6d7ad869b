using System.Reactive.Concurrency;
using System.Reactive.Disposables;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace LoadBalancer.Reactive.Admin;

/// <summary>
/// One client of the runtime API's socket: reads a command per line and writes each reply followed by an empty
/// line. With a token, <c>auth TOKEN</c> must come first; a wrong token ends the session. A line that is too long,
/// or a client silent for longer than the idle timeout, ends it too. Whatever the client does, only its own session
/// waits: commands never block the balancer.
/// </summary>
internal sealed partial class AdminSession(RuntimeApi api, byte[]? tokenHash, RuntimeApiListenerLimits limits, ILogger logger, string client)
{
    private bool _authenticated = tokenHash is null;
    private RuntimeFormat _format = RuntimeFormat.Text;

    /// <summary>Serves the client until it quits, goes quiet, misbehaves, or <paramref name="cancellationToken"/> ends the listener.</summary>
    public async Task RunAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var session = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var idle = new SerialDisposable();
        var reader = new LineReader(stream, limits.MaxLineLength);
        try
        {
            while (true)
            {
                // The idle deadline covers reading the next command and writing its reply.
                idle.Disposable = limits.Scheduler.Schedule(limits.IdleTimeout, () => CancelQuietly(session));
                string? line;
                try
                {
                    line = await reader.ReadLineAsync(session.Token).ConfigureAwait(false);
                }
                catch (InvalidDataException tooLong)
                {
                    await WriteAsync(stream, RuntimeReply.Error(tooLong.Message + "; closing"), RuntimeFormat.Text, session.Token).ConfigureAwait(false);
                    Log.SessionEnded(logger, client, tooLong.Message);
                    return;
                }

                if (line is null)
                {
                    return;
                }

                var (reply, format) = await AnswerAsync(CommandLine.Split(line), session.Token).ConfigureAwait(false);
                if (reply is null)
                {
                    continue;
                }

                // 'format X' is answered in X already.
                _format = reply.SessionFormat ?? _format;
                await WriteAsync(stream, reply, reply.SessionFormat ?? format, session.Token).ConfigureAwait(false);
                if (reply.EndsSession)
                {
                    return;
                }
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The client went away, went quiet past the idle timeout, or the listener stopped: nothing to answer.
            Log.SessionEnded(logger, client, exception is OperationCanceledException && !cancellationToken.IsCancellationRequested
                ? "idle timeout" : exception.GetType().Name);
        }
    }

    // One line's reply and how to write it; null for a blank line, which gets none.
    private async Task<(RuntimeReply? Reply, RuntimeFormat Format)> AnswerAsync(IReadOnlyList<string> words, CancellationToken cancellationToken)
    {
        var format = _format;
        if (words.Count > 0 && words[0].Equals("json", StringComparison.OrdinalIgnoreCase))
        {
            (format, words) = (RuntimeFormat.Json, words.Skip(1).ToList());
            if (words.Count == 0)
            {
                return (RuntimeReply.Error("'json' needs a command after it, such as 'json show info'"), format);
            }
        }

        if (words.Count == 0)
        {
            // Before authenticating, a blank line is refused like any other line, so that an unauthenticated client
            // cannot hold one of the listener's few sessions by sending nothing but line ends.
            return (_authenticated ? null : RuntimeReply.Error("authenticate first: auth TOKEN").EndingSession(), format);
        }

        if (words[0].Equals("auth", StringComparison.OrdinalIgnoreCase))
        {
            return (Authenticate(words), format);
        }

        if (!_authenticated && !words[0].Equals("quit", StringComparison.OrdinalIgnoreCase))
        {
            return (RuntimeReply.Error("authenticate first: auth TOKEN").EndingSession(), format);
        }

        Log.Command(logger, client, string.Join(' ', words.Select(CommandLine.Quote)));
        return (await api.ExecuteAsync(words, cancellationToken).ConfigureAwait(false), format);
    }

    private RuntimeReply Authenticate(IReadOnlyList<string> words)
    {
        if (tokenHash is null)
        {
            return RuntimeReply.Ok("ok: no token needed here");
        }

        if (words.Count != 2)
        {
            return RuntimeReply.Error("'auth' needs TOKEN; usage: auth TOKEN");
        }

        // Hashes of equal length compared in constant time: neither the token's bytes nor its length leak through timing.
        if (CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(words[1])), tokenHash))
        {
            _authenticated = true;
            return RuntimeReply.Ok("ok: authenticated");
        }

        Log.TokenRefused(logger, client);
        return RuntimeReply.Error("token refused").EndingSession();
    }

    // A reply's lines, none empty (an empty line ends the reply), then the empty line.
    private static async Task WriteAsync(Stream stream, RuntimeReply reply, RuntimeFormat format, CancellationToken cancellationToken)
    {
        var lines = reply.Render(format).Split('\n').Select(line => line.TrimEnd('\r')).Where(line => line.Length > 0);
        var text = string.Concat(lines.Select(line => line + "\n")) + "\n";
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The session ended as its deadline passed.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(61, LogLevel.Debug, "Runtime API: {Client} ran '{Command}'")]
        public static partial void Command(ILogger logger, string client, string command);

        [LoggerMessage(62, LogLevel.Warning, "Runtime API: {Client} sent a wrong token; session closed")]
        public static partial void TokenRefused(ILogger logger, string client);

        [LoggerMessage(63, LogLevel.Debug, "Runtime API: session of {Client} ended ({Reason})")]
        public static partial void SessionEnded(ILogger logger, string client, string reason);
    }
}
