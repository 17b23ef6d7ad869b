using System.Net;
using System.Net.Sockets;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Listening;

/// <summary>Binds listening sockets, turning the usual failures into messages that name the endpoint.</summary>
internal static class ListenerFactory
{
    // Linux caps this at net.core.somaxconn; asking for more than the default 128 matters under bursts.
    private const int Backlog = 4096;

    /// <summary>Binds and listens on <paramref name="address"/> (<c>HOST:PORT</c>, validated with the options).</summary>
    /// <exception cref="IOException">The endpoint cannot be bound; the message names it.</exception>
    public static Socket Listen(string address)
    {
        if (!EndPointParser.TryParse(address, allowPortZero: true, out var parsed, out var error))
        {
            throw new ArgumentException($"Listen {error}.", nameof(address));
        }

        var endPoint = parsed is DnsEndPoint dns ? new IPEndPoint(IPAddress.Loopback, dns.Port) : (IPEndPoint)parsed;
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(endPoint);
            socket.Listen(Backlog);
            return socket;
        }
        catch (SocketException exception)
        {
            socket.Dispose();
            var why = exception.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "the address is already in use",
                SocketError.AddressNotAvailable => "the address does not belong to this machine",
                SocketError.AccessDenied => "permission denied (ports below 1024 need privileges)",
                _ => exception.Message,
            };
            throw new IOException($"Cannot listen on {address}: {why}.", exception);
        }
    }
}
