using System.Net.Sockets;
using System.Text;

namespace Quickstart;

/// <summary>
/// Tells systemd how the service is doing (<c>Type=notify</c>): the sd_notify protocol, one datagram of
/// <c>KEY=value</c> lines sent to the Unix socket named by <c>NOTIFY_SOCKET</c>. A name starting with
/// '@' is an abstract socket. Without the variable (not under systemd) it does nothing; a failure to send
/// is reported once and never stops the balancer.
/// </summary>
internal sealed class SystemdNotifier : IDisposable
{
    public const string Variable = "NOTIFY_SOCKET";

    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endPoint;
    private readonly TextWriter _error;
    private readonly string? _path;
    private bool _warned;

    private SystemdNotifier(string? path, TextWriter error)
    {
        _error = error;
        _path = path;
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        // Abstract socket names start with a NUL byte; systemd writes it as '@'.
        _endPoint = new UnixDomainSocketEndPoint(path[0] == '@' ? "\0" + path[1..] : path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    /// <summary>A notifier for the socket in <paramref name="notifySocket"/> (the value of NOTIFY_SOCKET), if any.</summary>
    public static SystemdNotifier Create(string? notifySocket, TextWriter error) => new(notifySocket, error);

    /// <summary>The service is up: it listens.</summary>
    public void Ready(string status) => Send($"READY=1\nSTATUS={status}");

    /// <summary>The service is stopping.</summary>
    public void Stopping(string status) => Send($"STOPPING=1\nSTATUS={status}");

    /// <summary>The service is reloading its configuration.</summary>
    public void Status(string status) => Send($"STATUS={status}");

    public void Dispose() => _socket?.Dispose();

    private void Send(string message)
    {
        if (_socket is null)
        {
            return;
        }

        try
        {
            _socket.SendTo(Encoding.UTF8.GetBytes(message), _endPoint!);
        }
        catch (SocketException exception) when (!_warned)
        {
            _warned = true;
            _error.WriteLine($"warning: cannot notify systemd at {Variable}={_path}: {exception.Message}");
        }
        catch (SocketException)
        {
        }
    }
}
