using System.Net.Security;
using System.Net.Sockets;
using System.Reactive.Concurrency;
using System.Text;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Tls;
using LoadBalancer.Reactive.Transport;

namespace LoadBalancer.Reactive.Health;

/// <summary>
/// One active health probe, speaking as a connection to that backend does: connect within the timeout, send
/// the PROXY header first if the backend is sent one, handshake TLS if it is reached over TLS, then, if
/// configured, send a few bytes and check that the reply starts as expected (over TLS when it is on). Any
/// failure, including a failed handshake or the timeout, is "unhealthy".
/// </summary>
internal static class TcpProbe
{
    private const int MaxReply = 4096;

    public static async Task<bool> ProbeAsync(
        BackendDefinition backend, HealthCheckOptions options, IScheduler scheduler, CancellationToken cancellationToken)
    {
        // One deadline for the whole probe: the connect, the header, the handshake and the reply share the timeout.
        using var deadline = new Deadline(options.Timeout, scheduler, cancellationToken);
        try
        {
            // A backend that is down refuses or times out: a verdict, not an exception (probed every interval).
            var (connected, _) = await BackendConnector.TryConnectAsync(backend.EndPoint, options.Timeout, scheduler, deadline.Token).ConfigureAwait(false);
            if (connected is null)
            {
                return false;
            }

            using var socket = connected;
            await using var network = new NetworkStream(socket, ownsSocket: false);
            if (backend.SendProxy != ProxyProtocolVersion.None)
            {
                // A probe has no client: v1 says UNKNOWN and v2 sends LOCAL, the command the spec reserves for health checks.
                var header = ProxyHeaderWriter.Write(backend.SendProxy, source: null, destination: null);
                await network.WriteAsync(header, deadline.Token).ConfigureAwait(false);
            }

            await using var tls = backend.Tls is { } settings
                ? await BackendTls.HandshakeAsync(network, settings, backend.Address, options.Timeout, scheduler, deadline.Token).ConfigureAwait(false)
                : null;
            Stream stream = tls is null ? network : tls;
            if (options.Send is { } send)
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(send), deadline.Token).ConfigureAwait(false);
            }

            var healthy = options.Expect is not { } expect || await RepliesWithAsync(stream, Encoding.UTF8.GetBytes(expect), deadline.Token).ConfigureAwait(false);
            if (tls is not null)
            {
                await CloseNotifyAsync(tls, deadline.Token).ConfigureAwait(false);
            }

            return healthy;
        }
        catch (Exception exception) when (exception is SocketException or IOException or OperationCanceledException or ObjectDisposedException or BackendTlsException)
        {
            return false;
        }
    }

    private static async Task<bool> RepliesWithAsync(Stream stream, byte[] expected, CancellationToken cancellationToken)
    {
        var reply = new byte[Math.Min(expected.Length, MaxReply)];
        var filled = 0;
        while (filled < reply.Length)
        {
            var read = await stream.ReadAsync(reply.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return false;
            }

            filled += read;
        }

        return reply.AsSpan().SequenceEqual(expected);
    }

    // Ends the session as a connection would, so a TLS backend sees an orderly close rather than a truncated
    // one it may log. The verdict is already made: a backend that closed first does not turn it.
    private static async Task CloseNotifyAsync(SslStream tls, CancellationToken cancellationToken)
    {
        try
        {
            await tls.ShutdownAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
