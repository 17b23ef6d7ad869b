using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace LoadBalancer.Reactive.Tests.Infrastructure;

/// <summary>Client-side helpers for loopback tests. Every wait is bounded by <see cref="Timeout"/>.</summary>
public static class Loopback
{
    /// <summary>The longest any single await in a socket test may take before the test fails.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static async Task<Socket> ConnectAsync(EndPoint endPoint, IPAddress? from = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        await socket.ConnectAsync(endPoint).WaitAsync(Timeout);
        return socket;
    }

    public static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            var sent = await socket.SendAsync(data, SocketFlags.None).AsTask().WaitAsync(Timeout);
            data = data[sent..];
        }
    }

    /// <summary>Connects, half-closes at once and returns what the server said, as text.</summary>
    public static async Task<string> AskAsync(EndPoint endPoint, IPAddress? from = null)
    {
        using var socket = await ConnectAsync(endPoint, from);
        socket.Shutdown(SocketShutdown.Send);
        return System.Text.Encoding.ASCII.GetString(await ReadToEndAsync(socket));
    }

    /// <summary>Reads until the peer closes its sending side; returns everything read.</summary>
    public static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Timeout);
            if (read == 0)
            {
                return received.ToArray();
            }

            received.Write(buffer, 0, read);
        }
    }

    /// <summary>Reads a stream (a TLS one, say) until it ends; returns everything read.</summary>
    public static async Task<byte[]> ReadToEndAsync(Stream stream)
    {
        using var received = new MemoryStream();
        await stream.CopyToAsync(received).WaitAsync(Timeout);
        return received.ToArray();
    }

    /// <summary>Reads until the peer closes, hashing as it goes; returns the count and SHA-256.</summary>
    public static async Task<(long Count, byte[] Hash)> HashToEndAsync(Socket socket)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        long count = 0;
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Timeout);
            if (read == 0)
            {
                return (count, hash.GetHashAndReset());
            }

            hash.AppendData(buffer, 0, read);
            count += read;
        }
    }

    /// <summary>Closes with a reset (RST) instead of a FIN.</summary>
    public static void Reset(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }

    /// <summary>
    /// An endpoint that refuses connections: a port bound but never listened on, held by the returned
    /// socket so no other test can take it meanwhile.
    /// </summary>
    public static (Socket Holder, IPEndPoint EndPoint) RefusingEndPoint()
    {
        var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (holder, (IPEndPoint)holder.LocalEndPoint!);
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, checking every few milliseconds, and fails after
    /// <see cref="Timeout"/>. For state another process or thread reaches on its own time (a test server
    /// counting what its accept loop has taken), never for timing logic.
    /// </summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>Deterministic pseudo-random bytes.</summary>
    public static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
