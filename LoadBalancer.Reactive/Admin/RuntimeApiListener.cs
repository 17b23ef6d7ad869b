using System.Net;
using System.Net.Sockets;
using System.Reactive.Concurrency;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LoadBalancer.Reactive.Admin;

/// <summary>
/// Serves a <see cref="RuntimeApi"/> on a socket, as HAProxy's stats socket: one command per line, each reply
/// followed by an empty line, several commands per connection, <c>quit</c> to end one; usable with
/// <c>socat</c> or <c>nc</c>. Start it with <see cref="StartAsync(RuntimeApi, string, string?, ILogger?, CancellationToken)"/>; dispose it to stop.
/// </summary>
/// <example>
/// <code>
/// await using var admin = await RuntimeApiListener.StartAsync(new RuntimeApi(balancer), "/run/lb/admin.sock");
/// // echo "show backends" | socat - UNIX-CONNECT:/run/lb/admin.sock
/// </code>
/// </example>
public sealed partial class RuntimeApiListener : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly RuntimeApi _api;
    private readonly byte[]? _tokenHash;
    private readonly RuntimeApiListenerLimits _limits;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly HashSet<Task> _sessions = [];
    private readonly string? _socketPath;
    private Task _accepting = Task.CompletedTask;
    private int _disposed;

    private RuntimeApiListener(Socket listener, RuntimeApi api, byte[]? tokenHash, RuntimeApiListenerLimits limits, ILogger logger, string? socketPath)
    {
        (_listener, _api, _tokenHash, _limits, _logger, _socketPath) = (listener, api, tokenHash, limits, logger, socketPath);
        LocalEndPoint = listener.LocalEndPoint!;
    }

    /// <summary>Where it listens: the Unix socket's path, or the loopback address with the port actually bound.</summary>
    public EndPoint LocalEndPoint { get; }

    /// <summary>
    /// Listens for runtime API clients on <paramref name="endpoint"/> until disposed.
    /// </summary>
    /// <param name="api">The commands to serve.</param>
    /// <param name="endpoint">
    /// A Unix socket path (anything with a '/'; created readable and writable by its owner only, and removed on
    /// dispose), or a <c>HOST:PORT</c> (port 0 picks a free one). A TCP endpoint must be a loopback address unless
    /// <paramref name="token"/> is set.
    /// </param>
    /// <param name="token">
    /// When set, a client's first command must be <c>auth TOKEN</c>; any other ends its session, and so does a wrong
    /// token. Default: none (the socket's reach is the guard).
    /// </param>
    /// <param name="logger">Where to log the listener and refused tokens; default: nowhere.</param>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <returns>The listener; dispose it to stop listening and end every session.</returns>
    /// <exception cref="ArgumentException">
    /// The endpoint is malformed, or a non-loopback TCP endpoint without a token, or the token is empty or holds
    /// spaces; the message names the endpoint.
    /// </exception>
    /// <exception cref="IOException">The endpoint cannot be bound (in use, or its directory is missing); the message names it.</exception>
    public static Task<RuntimeApiListener> StartAsync(
        RuntimeApi api, string endpoint, string? token = null, ILogger? logger = null, CancellationToken cancellationToken = default) =>
        StartAsync(api, endpoint, token, logger, RuntimeApiListenerLimits.Default, cancellationToken);

    /// <summary>As the public <see cref="StartAsync(RuntimeApi, string, string?, ILogger?, CancellationToken)"/>, with its limits chosen (for tests).</summary>
    internal static Task<RuntimeApiListener> StartAsync(
        RuntimeApi api, string endpoint, string? token, ILogger? logger, RuntimeApiListenerLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(endpoint);
        cancellationToken.ThrowIfCancellationRequested();
        if (token is not null && (token.Length == 0 || token.Any(char.IsWhiteSpace)))
        {
            throw new ArgumentException($"The runtime API token for '{endpoint}' must not be empty or hold spaces (it is sent as 'auth TOKEN').", nameof(token));
        }

        var bindTo = AdminEndPoint.Parse(endpoint, guardedByToken: token is not null);
        var socketPath = (bindTo as UnixDomainSocketEndPoint)?.ToString();
        var listener = Bind(bindTo, endpoint, socketPath);
        var started = new RuntimeApiListener(
            listener, api, token is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token)), limits, logger ?? NullLogger.Instance, socketPath);
        started._accepting = started.AcceptAsync();
        Log.Listening(started._logger, AdminEndPoint.Format(started.LocalEndPoint), token is not null);
        return Task.FromResult(started);
    }

    /// <summary>Stops listening, ends every session, and removes the Unix socket file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accepting.ConfigureAwait(false);
        Task[] sessions;
        lock (_gate)
        {
            sessions = [.. _sessions];
        }

        await Task.WhenAll(sessions).ConfigureAwait(false);
        if (_socketPath is not null)
        {
            File.Delete(_socketPath);
        }

        _stop.Dispose();
    }

    private static Socket Bind(EndPoint bindTo, string written, string? socketPath)
    {
        var socket = socketPath is null
            ? new Socket(bindTo.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            if (socketPath is not null)
            {
                RemoveStaleSocket(socketPath, written);
            }

            socket.Bind(bindTo);

            // Owner-only before listening: until listen() nobody can connect, so there is no moment when others could.
            if (socketPath is not null && !OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            socket.Listen(16);
            return socket;
        }
        catch (Exception exception) when (exception is SocketException or UnauthorizedAccessException)
        {
            socket.Dispose();
            throw new IOException($"The runtime API cannot listen on '{written}': {exception.Message}", exception);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    // A socket file left by a process that died is removed; a live one (it accepts) or anything that is not a socket is not.
    private static void RemoveStaleSocket(string path, string written)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"The runtime API cannot listen on '{written}': another process is listening there.");
            }
            catch (SocketException)
            {
                // Nobody listens: a stale socket, or not a socket at all.
            }
        }

        try
        {
            using var opened = File.OpenRead(path);
        }
        catch (IOException)
        {
            // A socket cannot be opened as a file: this one is stale.
            File.Delete(path);
            return;
        }

        throw new IOException($"The runtime API cannot listen on '{written}': a file that is not a socket is there.");
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException exception)
            {
                // One client's failed accept (reset before it was taken, out of descriptors) never ends the loop.
                Log.AcceptFailed(_logger, exception.SocketErrorCode);
                continue;
            }

            Serve(client);
        }
    }

    private void Serve(Socket client)
    {
        lock (_gate)
        {
            if (_sessions.Count >= _limits.MaxClients)
            {
                _ = RefuseAsync(client);
                return;
            }

            var name = client.RemoteEndPoint is IPEndPoint remote ? remote.ToString() : "unix socket";
            var session = new AdminSession(_api, _tokenHash, _limits, _logger, name);
            var task = Task.Run(async () =>
            {
                try
                {
                    await using var stream = new NetworkStream(client, ownsSocket: true);
                    await session.RunAsync(stream, _stop.Token).ConfigureAwait(false);
                }
                catch (Exception exception)
                {
                    // A session that fails for a reason of its own ends alone: neither the listener nor the balancer notices.
                    Log.SessionFaulted(_logger, name, exception);
                }
            });
            _sessions.Add(task);
            _ = task.ContinueWith(
                ended =>
                {
                    lock (_gate)
                    {
                        _sessions.Remove(ended);
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    // One line to say why, sent to a fresh connection whose send buffer is empty, so it never waits.
    private async Task RefuseAsync(Socket client)
    {
        using (client)
        {
            Log.TooManyClients(_logger, _limits.MaxClients);
            try
            {
                var refusal = Encoding.UTF8.GetBytes($"error: too many runtime API clients ({_limits.MaxClients} at most); try again later\n\n");
                await client.SendAsync(refusal, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                client.Shutdown(SocketShutdown.Both);
            }
            catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // It left first.
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(60, LogLevel.Information, "Runtime API listening on {EndPoint} (token required: {TokenRequired})")]
        public static partial void Listening(ILogger logger, string endPoint, bool tokenRequired);

        [LoggerMessage(64, LogLevel.Warning, "Runtime API: a client was refused, {MaxClients} are connected already")]
        public static partial void TooManyClients(ILogger logger, int maxClients);

        [LoggerMessage(66, LogLevel.Error, "Runtime API: the session of {Client} failed")]
        public static partial void SessionFaulted(ILogger logger, string client, Exception exception);

        [LoggerMessage(65, LogLevel.Debug, "Runtime API: accepting a client failed ({Error})")]
        public static partial void AcceptFailed(ILogger logger, SocketError error);
    }
}

/// <summary>How much one runtime API listener takes on.</summary>
/// <param name="MaxLineLength">The longest command line, in bytes; a longer one ends the session.</param>
/// <param name="MaxClients">Sessions at once; one more is told so and closed.</param>
/// <param name="IdleTimeout">How long a session may stay silent (or leave its reply unread) before it is closed.</param>
/// <param name="Scheduler">Times the idle timeout.</param>
internal sealed record RuntimeApiListenerLimits(int MaxLineLength, int MaxClients, TimeSpan IdleTimeout, IScheduler Scheduler)
{
    public static readonly RuntimeApiListenerLimits Default = new(4096, 16, TimeSpan.FromMinutes(5), System.Reactive.Concurrency.Scheduler.Default);
}
