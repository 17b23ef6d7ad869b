using System.Net;
using System.Net.Sockets;
using System.Reactive.Concurrency;
using System.Text;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Transport;

namespace LoadBalancer.Reactive.Health;

/// <summary>
/// One active health probe: connect to the backend within the timeout and, if configured, send a few
/// bytes and check that the reply starts as expected. Any failure, including the timeout, is "unhealthy".
/// </summary>
internal static class TcpProbe
{
    private const int MaxReply = 4096;

    public static async Task<bool> ProbeAsync(
        EndPoint endPoint, HealthCheckOptions options, IScheduler scheduler, CancellationToken cancellationToken)
    {
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var deadline = scheduler.Schedule(options.Timeout, () => CancelQuietly(probe));
        try
        {
            using var socket = await BackendConnector.ConnectAsync(endPoint, options.Timeout, scheduler, probe.Token).ConfigureAwait(false);
            if (options.Send is { } send)
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes(send), SocketFlags.None, probe.Token).ConfigureAwait(false);
            }

            return options.Expect is not { } expect || await RepliesWithAsync(socket, Encoding.UTF8.GetBytes(expect), probe.Token).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return false;
        }
    }

    private static async Task<bool> RepliesWithAsync(Socket socket, byte[] expected, CancellationToken cancellationToken)
    {
        var reply = new byte[Math.Min(expected.Length, MaxReply)];
        var filled = 0;
        while (filled < reply.Length)
        {
            var read = await socket.ReceiveAsync(reply.AsMemory(filled), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return false;
            }

            filled += read;
        }

        return reply.AsSpan().SequenceEqual(expected);
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
