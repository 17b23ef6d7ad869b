using System.Net;
using System.Net.Sockets;
using System.Text;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Admin;

/// <summary>A runtime API client as a script is one: sends a line, reads the reply up to its empty line. Every wait is bounded.</summary>
internal sealed class AdminClient : IDisposable
{
    private readonly Socket _socket;
    private readonly StreamReader _reader;

    private AdminClient(Socket socket)
    {
        _socket = socket;
        _reader = new StreamReader(new NetworkStream(socket, ownsSocket: false), Encoding.UTF8);
    }

    public static async Task<AdminClient> ConnectAsync(EndPoint endPoint)
    {
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint).WaitAsync(Loopback.Timeout);
        return new AdminClient(socket);
    }

    public Socket Socket => _socket;

    /// <summary>Sends one line and returns the reply's lines (without the empty line that ends it).</summary>
    public async Task<IReadOnlyList<string>> AskAsync(string line)
    {
        await SendAsync(Encoding.UTF8.GetBytes(line + "\n"));
        return await ReadReplyAsync();
    }

    public Task SendAsync(byte[] bytes) => Loopback.SendAllAsync(_socket, bytes);

    public async Task<IReadOnlyList<string>> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await _reader.ReadLineAsync().WaitAsync(Loopback.Timeout)
                ?? throw new EndOfStreamException($"the connection ended inside a reply after: {string.Join(" | ", lines)}");
            if (line.Length == 0)
            {
                return lines;
            }

            lines.Add(line);
        }
    }

    /// <summary>Whether the server has closed the connection (reads end with nothing more).</summary>
    public async Task<bool> ClosedAsync() => await _reader.ReadLineAsync().WaitAsync(Loopback.Timeout) is null;

    public void Dispose()
    {
        _reader.Dispose();
        _socket.Dispose();
    }
}
