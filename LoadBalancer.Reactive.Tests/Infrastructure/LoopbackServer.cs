using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace LoadBalancer.Reactive.Tests.Infrastructure;

/// <summary>
/// A backend for tests on 127.0.0.1 and a free port, running <c>handler</c> for each connection.
/// It counts what it accepted and closes every socket it still holds when disposed.
/// </summary>
public sealed class LoopbackServer : IAsyncDisposable
{
    private readonly Func<Socket, Task> _handler;
    private readonly ConcurrentDictionary<Socket, Task> _open = new();
    private readonly CancellationTokenSource _stop = new();
    private Socket _listener;
    private Task _accepting;
    private int _accepted;
    private int _disposed;

    public LoopbackServer(Func<Socket, Task> handler)
    {
        _handler = handler;
        _listener = Listen(new IPEndPoint(IPAddress.Loopback, 0));
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _accepting = AcceptAsync(_listener);
    }

    public IPEndPoint EndPoint { get; }

    public string Address => EndPoint.ToString();

    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>A backend that reads until the client closes, then closes: it just holds connections.</summary>
    public static LoopbackServer Holding() => new(async socket => await Loopback.ReadToEndAsync(socket));

    /// <summary>A backend that answers every connection with its own address, then closes after the client does.</summary>
    public static LoopbackServer Named()
    {
        LoopbackServer? self = null;
        self = new LoopbackServer(async socket =>
        {
            await Loopback.SendAllAsync(socket, System.Text.Encoding.ASCII.GetBytes(self!.Address));
            socket.Shutdown(SocketShutdown.Send);
            await Loopback.ReadToEndAsync(socket);
        });
        return self;
    }

    /// <summary>A backend that echoes everything back and closes after the client does.</summary>
    public static LoopbackServer Echo() => new(async socket =>
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None);
            if (read == 0)
            {
                return;
            }

            await Loopback.SendAllAsync(socket, buffer.AsMemory(0, read));
        }
    });

    /// <summary>Closes the listening socket, as a crashed process would: new connects are refused. Open connections carry on.</summary>
    public async Task StopListeningAsync()
    {
        _listener.Dispose();
        await _accepting.WaitAsync(Loopback.Timeout);
    }

    /// <summary>Listens again on the same port, as a restarted process would.</summary>
    public void ResumeListening()
    {
        _listener = Listen(EndPoint);
        _accepting = AcceptAsync(_listener);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        _listener.Dispose();
        foreach (var socket in _open.Keys)
        {
            socket.Dispose();
        }

        await _accepting.WaitAsync(Loopback.Timeout);
        _stop.Dispose();
    }

    private static Socket Listen(IPEndPoint endPoint)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(endPoint);
        listener.Listen(1024);
        return listener;
    }

    private async Task AcceptAsync(Socket listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stop.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            _open[socket] = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        await Task.Yield();
        try
        {
            await _handler(socket);
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException or TimeoutException)
        {
            // The test that cares about a backend's failure observes it in its own handler.
        }
        finally
        {
            _open.TryRemove(socket, out _);
            socket.Dispose();
        }
    }
}
