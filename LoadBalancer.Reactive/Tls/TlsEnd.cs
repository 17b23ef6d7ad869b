using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using LoadBalancer.Reactive.Transport;

namespace LoadBalancer.Reactive.Tls;

/// <summary>
/// A relay end that speaks TLS: the relay reads and sends plaintext, the <see cref="SslStream"/> encrypts
/// and decrypts over the socket. A half-close sends close_notify and then a FIN; a reset is a reset.
/// </summary>
/// <param name="ssl">The authenticated stream, built over <paramref name="gate"/>'s <see cref="TlsReadGate.Under"/>.</param>
/// <param name="gate">Keeps reads and close_notify out of OpenSSL at the same time.</param>
/// <param name="socket">The socket under it, for half-closes and resets.</param>
/// <param name="closeRaw">Releases what is under the stream (the client's pipe, or the backend socket).</param>
internal sealed class TlsEnd(SslStream ssl, TlsReadGate gate, Socket socket, Action closeRaw) : RelayEnd
{
    private readonly PipeReader _input = PipeReader.Create(
        gate.Reads(ssl), new StreamPipeReaderOptions(MemoryPool<byte>.Shared, bufferSize: 16 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true));

    public override PipeReader Input => _input;

    public override ValueTask SendAsync(ReadOnlyMemory<byte> bytes) => ssl.WriteAsync(bytes);

    public override async ValueTask ShutdownSendAsync()
    {
        try
        {
            await gate.ShutdownAsync(ssl).ConfigureAwait(false);
        }
        catch (CryptographicException)
        {
            // OpenSSL can still refuse close_notify while the session is in a handshake ("shutdown while in
            // init"). Every byte is already sent; the FIN below still ends the stream.
        }

        socket.Shutdown(SocketShutdown.Send);
    }

    public override void ShutdownBoth() => ShutdownQuietly(socket, SocketShutdown.Both);

    public override void Reset() => ResetSocket(socket);

    public override void Close()
    {
        _input.Complete();
        ssl.Dispose();
        closeRaw();
    }
}
