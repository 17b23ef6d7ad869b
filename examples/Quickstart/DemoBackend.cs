using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Quickstart;

/// <summary>
/// A tiny HTTP/1.1 server that answers every request with which backend served it, so a user can
/// watch the balancer spread requests without setting up servers of their own.
/// </summary>
internal sealed class DemoBackend : IAsyncDisposable
{
    private const int MaxRequestHead = 16 * 1024;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private DemoBackend(string name, Socket listener)
    {
        Name = name;
        _listener = listener;
        EndPoint = (IPEndPoint)listener.LocalEndPoint!;
        _accepting = AcceptAsync();
    }

    public string Name { get; }

    public IPEndPoint EndPoint { get; }

    /// <summary>Starts a demo backend on 127.0.0.1:<paramref name="port"/> (0 picks a free port).</summary>
    /// <exception cref="IOException">The port is in use.</exception>
    public static DemoBackend Start(string name, int port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
            listener.Listen(512);
        }
        catch (SocketException exception)
        {
            listener.Dispose();
            throw new IOException($"Cannot start demo {name} on 127.0.0.1:{port}: {exception.Message}.", exception);
        }

        return new DemoBackend(name, listener);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var _ = client;
        using var stream = new NetworkStream(client);
        var buffer = new byte[MaxRequestHead];
        var filled = 0;
        try
        {
            while (true)
            {
                var headEnd = IndexOfHeadEnd(buffer.AsSpan(0, filled));
                if (headEnd < 0)
                {
                    if (filled == buffer.Length)
                    {
                        return;
                    }

                    var read = await stream.ReadAsync(buffer.AsMemory(filled), _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    filled += read;
                    continue;
                }

                var head = Encoding.ASCII.GetString(buffer, 0, headEnd);
                var close = head.StartsWith("GET / HTTP/1.0", StringComparison.Ordinal)
                    || head.Contains("connection: close", StringComparison.OrdinalIgnoreCase)
                    || head.Contains(" HTTP/1.0\r\n", StringComparison.Ordinal);
                await stream.WriteAsync(Response(close), _stop.Token);
                if (close)
                {
                    client.Shutdown(SocketShutdown.Send);
                    return;
                }

                // Keep what follows this request's head (a pipelined request) and go round again.
                var consumed = headEnd + 4;
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
            }
        }
        catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException)
        {
            // A client that goes away mid-request is nothing to report.
        }
    }

    private byte[] Response(bool close)
    {
        var body = $"Hello from {Name} ({EndPoint})\n";
        var connection = close ? "close" : "keep-alive";
        return Encoding.ASCII.GetBytes(
            $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: {connection}\r\n\r\n{body}");
    }

    private static int IndexOfHeadEnd(ReadOnlySpan<byte> data) => data.IndexOf("\r\n\r\n"u8);
}
