using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using LoadBalancer.Reactive.Transport;

namespace LoadBalancer.Reactive.Tls;

/// <summary>
/// The stream a terminating <see cref="System.Net.Security.SslStream"/> runs over: reads come from the
/// client's pipe (so whatever the balancer already read, like a PROXY header, is accounted for), writes go
/// straight to the socket and complete once they are with the kernel.
/// </summary>
internal sealed class PipeSocketStream(PipeReader input, Socket socket) : AsyncStream
{
    public override bool CanWrite => true;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var read = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var available = read.Buffer;
            if (!available.IsEmpty)
            {
                var count = (int)Math.Min(available.Length, buffer.Length);
                var taken = available.Slice(0, count);
                taken.CopyTo(buffer.Span);
                input.AdvanceTo(taken.End);
                return count;
            }

            input.AdvanceTo(available.End);
            if (read.IsCompleted || read.IsCanceled)
            {
                return 0;
            }
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        RelayEnd.SendAllAsync(socket, buffer, cancellationToken);
}
