using System.Net.Security;

namespace LoadBalancer.Reactive.Tls;

/// <summary>
/// Keeps OpenSSL from being entered by a read and a close_notify at once. SslStream lets one read and one
/// write run together and keeps OpenSSL's reads and writes apart, but not a read and
/// <see cref="SslStream.ShutdownAsync"/>; an OpenSSL session is not thread-safe, and a relay half-closes one
/// direction of a TLS end while the other direction is reading it. Measured here without this gate: clients
/// that half-close at once towards a TLS backend met "shutdown while in init" about once in 300 connections
/// under load, and a run of 200 of them ended the process with a segmentation fault.
/// </summary>
/// <remarks>
/// A read holds the gate while SslStream works on it, except while SslStream waits for bytes from the
/// network: the stream under it lets go of the gate for that wait (a zero-byte read) and takes it back
/// before handing the bytes over. So a half-close never waits for the peer to send something, and never
/// runs while OpenSSL decrypts.
/// </remarks>
internal sealed class TlsReadGate
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    // Set only by the one read in flight, and read only by the stream under it, on that read's own path.
    private bool _readHolds;

    // Set while a close_notify is being made; the write that sends it lets go of the gate first.
    private bool _shutdownHolds;

    /// <summary>Wraps the stream an SslStream is built on, so that its reads can let go of the gate while they wait.</summary>
    public Stream Under(Stream stream) => new UnderStream(stream, this);

    /// <summary>The stream to read plaintext from: each read holds the gate (see the remarks).</summary>
    public Stream Reads(SslStream ssl) => new ReadStream(ssl, this);

    /// <summary>
    /// Makes close_notify while no read is inside OpenSSL, and sends it without the gate: a peer that reads
    /// only after it has sent everything would otherwise wait on a read that waits on this send.
    /// </summary>
    public async ValueTask ShutdownAsync(SslStream ssl)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        _shutdownHolds = true;
        try
        {
            await ssl.ShutdownAsync().ConfigureAwait(false);
        }
        finally
        {
            LetGoAfterShutdown();
        }
    }

    private void LetGoAfterShutdown()
    {
        if (_shutdownHolds)
        {
            _shutdownHolds = false;
            _gate.Release();
        }
    }

    private sealed class ReadStream(SslStream ssl, TlsReadGate owner) : AsyncStream
    {
        public override bool CanWrite => false;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await owner._gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            owner._readHolds = true;
            try
            {
                return await ssl.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                owner._readHolds = false;
                owner._gate.Release();
            }
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();
    }

    private sealed class UnderStream(Stream inner, TlsReadGate owner) : AsyncStream
    {
        public override bool CanWrite => true;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            // During the handshake no read holds the gate, so there is nothing to let go of.
            if (!owner._readHolds)
            {
                return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }

            // Wait for bytes without the gate (SslStream itself asks with a zero-byte read first while its
            // buffer is empty), then read them with it: they are there, so that read does not wait.
            owner._gate.Release();
            try
            {
                var waited = await inner.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                if (buffer.IsEmpty)
                {
                    return waited;
                }
            }
            finally
            {
                await owner._gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            }

            return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            // OpenSSL has made the close_notify by the time SslStream writes it out.
            owner.LetGoAfterShutdown();
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    }
}
