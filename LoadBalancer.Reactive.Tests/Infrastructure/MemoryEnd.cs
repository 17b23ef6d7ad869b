using System.IO.Pipelines;
using LoadBalancer.Reactive.Transport;

namespace LoadBalancer.Reactive.Tests.Infrastructure;

/// <summary>
/// A relay end in memory, for relays without sockets. Its input pipe resumes the relay inline, and what the relay sends
/// it is taken at once (or throws, when <see cref="SendThrows"/>), so when <see cref="SayAsync"/> returns the relay has
/// sent and counted those bytes.
/// </summary>
internal sealed class MemoryEnd : RelayEnd
{
    private readonly Pipe _input = new(new PipeOptions(
        readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, pauseWriterThreshold: 0, useSynchronizationContext: false));

    private long _received;

    /// <summary>Sending to this end throws, as a bug in an end would.</summary>
    public bool SendThrows { get; init; }

    /// <summary>Bytes the relay sent to this end.</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>Whether the relay reset this end.</summary>
    public bool WasReset { get; private set; }

    /// <summary>Whether the relay closed this end.</summary>
    public bool Closed { get; private set; }

    public override PipeReader Input => _input.Reader;

    public override bool CloseSendsFin => true;

    /// <summary>This end says <paramref name="count"/> bytes, relayed to the other end.</summary>
    public async Task SayAsync(int count) => await _input.Writer.WriteAsync(new byte[count]).AsTask().WaitAsync(Loopback.Timeout);

    /// <summary>This end closes its side (a FIN).</summary>
    public void Finish() => _input.Writer.Complete();

    public override ValueTask SendAsync(ReadOnlyMemory<byte> bytes)
    {
        if (SendThrows)
        {
            throw new NotSupportedException("a bug in an end");
        }

        Interlocked.Add(ref _received, bytes.Length);
        return ValueTask.CompletedTask;
    }

    public override ValueTask ShutdownSendAsync() => ValueTask.CompletedTask;

    public override void ShutdownBoth() => _input.Writer.Complete();

    public override void Reset()
    {
        WasReset = true;
        _input.Writer.Complete(new IOException("reset"));
    }

    public override void Close() => Closed = true;
}
