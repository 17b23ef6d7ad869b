using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Reactive.Concurrency;
using System.Reactive.Disposables;
using System.Runtime.CompilerServices;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Transport;
using Pipelines.Sockets.Unofficial;

namespace LoadBalancer.Reactive.Relaying;

/// <summary>
/// Relays bytes both ways between a client and a backend until both directions have ended, passing
/// half-closes and resets on, and counts the bytes.
/// </summary>
/// <remarks>
/// Each side is read through a <see cref="SocketConnection"/> input pipe (pooled segments, zero-length
/// reads while idle, back-pressure when the other side is slow). Bytes are sent straight from that
/// pipe's buffers to the other socket and only then released, so when a send completes the bytes are
/// in the kernel: a half-close or a dispose that follows can never cut off the tail of the stream.
/// <para>
/// A backend that resets before either side has said anything (a listener that closed with our
/// connection still in its accept queue) has seen nothing and shown nothing: the relay then leaves the
/// client untouched and completes as <see cref="RelayResult.Retriable"/>, so the connection can be
/// tried on another backend with the same client pipe.
/// </para>
/// </remarks>
internal sealed class DuplexRelay
{
    // _phase: nobody has said anything yet, then somebody has (no retry possible any more), or the
    // relay is handing the untouched client back for a retry. One word, so the two can never both win.
    private const int Quiet = 0;
    private const int Spoken = 1;
    private const int Retrying = 2;

    private readonly RelayEnd _client;
    private readonly RelayEnd _backend;
    private readonly IScheduler _scheduler;
    private readonly TimeSpan _idleTimeout;
    private readonly IRelayEndObserver _ended;
    // The pumps still running; the one that ends last ends the relay (see PumpEnded). Run sets _running, once.
    private int _pumpsRunning = 2;
    private int _running;
    // What a pump threw, if one ever does (nothing in it should): the relay is then aborted and its result carries it.
    private Exception? _unexpected;
    // The pending idle check, or NoMoreIdleChecks once the relay has ended.
    private IDisposable? _idleTimer;
    private long _lastActivityTicks;
    // Each count has one writer, its own pump; the sampler reads them while they grow (see TrySample).
    private long _bytesFromClient;
    private long _bytesFromBackend;
    // Both counts as the sampler last took them, so an idle relay is not reported again; the sampler's alone.
    private long _sampled;
    // Which side closed first, for a relay that ends cleanly; the first fault (a reset on either
    // side, or an abort) wins over that, because it is what the peers actually saw.
    private int _closedFirst = -1;
    private int _fault = -1;
    private int _phase = Quiet;
    // One bit per side whose input has ended with a FIN (see InputEnded).
    private int _inputsEnded;
    // The side whose reads were shut down because the other reset (see Fail), or -1.
    private int _readsShut = -1;

    private DuplexRelay(RelayEnd client, RelayEnd backend, IScheduler scheduler, TimeSpan idleTimeout, IRelayEndObserver ended)
    {
        _scheduler = scheduler;
        _idleTimeout = idleTimeout;
        _client = client;
        _backend = backend;
        _ended = ended;
    }

    private enum Side
    {
        Client,
        Backend,
    }

    /// <summary>
    /// A relay between a client and a connected backend socket, not yet running (see <see cref="Run"/>). The relay
    /// closes both when it ends, except the client when it ends <see cref="RelayResult.Retriable"/>.
    /// </summary>
    /// <param name="client">The client's end (its pipe outlives a relay, for retries).</param>
    /// <param name="backend">The connected backend's end.</param>
    /// <param name="scheduler">Times the idle timeout.</param>
    /// <param name="idleTimeout">Close after this long with no bytes either way; <see cref="TimeSpan.Zero"/> for never.</param>
    /// <param name="ended">Hears how the relay ended, once, when both directions have ended and both sockets are closed.</param>
    /// <remarks>
    /// The relay tells <paramref name="ended"/> rather than completing a task: nothing then waits on it while it runs,
    /// so an open connection holds no awaiting state machine besides its two pumps. Made first and run after, so that
    /// whoever keeps it (to abort or sample it) has it before it can end.
    /// </remarks>
    public static DuplexRelay Create(RelayEnd client, RelayEnd backend, IScheduler scheduler, TimeSpan idleTimeout, IRelayEndObserver ended) =>
        new(client, backend, scheduler, idleTimeout, ended);

    /// <summary>Starts both directions and the idle timeout; once only. An <see cref="Abort"/> before it ends the relay at once.</summary>
    public void Run()
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
        {
            throw new InvalidOperationException("A relay runs once.");
        }

        if (_idleTimeout > TimeSpan.Zero)
        {
            _lastActivityTicks = _scheduler.Now.UtcTicks;
            ScheduleIdleCheck(_idleTimeout);
        }

        _ = PumpAsync(_client, _backend, Side.Client);
        _ = PumpAsync(_backend, _client, Side.Backend);
    }

    /// <summary>Creates and runs a relay whose end is a task (<see cref="Create"/> and <see cref="Run"/>).</summary>
    /// <param name="client">The client's end.</param>
    /// <param name="backend">The connected backend's end.</param>
    /// <param name="scheduler">Times the idle timeout.</param>
    /// <param name="idleTimeout">Close after this long with no bytes either way; <see cref="TimeSpan.Zero"/> for never.</param>
    /// <param name="completion">Completes when both directions have ended and both sockets are closed.</param>
    public static DuplexRelay Start(
        RelayEnd client, RelayEnd backend, IScheduler scheduler, TimeSpan idleTimeout, out Task<RelayResult> completion)
    {
        var ended = new RelayEndTask();
        completion = ended.Task;
        var relay = Create(client, backend, scheduler, idleTimeout, ended);
        relay.Run();
        return relay;
    }

    /// <summary>Closes both sides at once with a reset. Unless a side failed first, the relay completes as <see cref="CompletionReason.Aborted"/>.</summary>
    public void Abort()
    {
        Fail(CompletionReason.Aborted);
    }

    /// <summary>
    /// The bytes relayed so far each way, when they have grown since the last call and the relay is still live: for
    /// the sampler that flushes live counts into the fold, which calls it for one relay at a time, never twice at once.
    /// Once the relay has ended its result carries the totals, and its end counts the rest.
    /// </summary>
    /// <param name="fromClient">Bytes relayed from the client since the relay started.</param>
    /// <param name="fromBackend">Bytes relayed from the backend since the relay started.</param>
    /// <returns>False when nothing moved since the last call, or the relay has ended.</returns>
    public bool TrySample(out long fromClient, out long fromBackend)
    {
        fromClient = Volatile.Read(ref _bytesFromClient);
        fromBackend = Volatile.Read(ref _bytesFromBackend);
        var total = fromClient + fromBackend;
        if (total == _sampled || Volatile.Read(ref _idleTimer) == NoMoreIdleChecks)
        {
            return false;
        }

        _sampled = total;
        return true;
    }

    // Each pump calls this once, as it ends; the second closes what is left and tells the observer how it went.
    private void PumpEnded()
    {
        if (Interlocked.Decrement(ref _pumpsRunning) > 0)
        {
            return;
        }

        // The end is reported whatever happens here: without it the connection would never leave the fold.
        var unexpected = Volatile.Read(ref _unexpected);
        var retrying = unexpected is null && Volatile.Read(ref _phase) == Retrying;
        try
        {
            Interlocked.Exchange(ref _idleTimer, NoMoreIdleChecks)?.Dispose();
            _backend.Close();
            if (!retrying)
            {
                _client.Close();
            }
        }
        catch (Exception exception)
        {
            unexpected ??= exception;
            retrying = false;
        }

        if (retrying)
        {
            _ended.RelayEnded(new RelayResult(0, 0, CompletionReason.BackendReset, Retriable: true));
            return;
        }

        var fault = Volatile.Read(ref _fault);
        var reason = unexpected is not null ? CompletionReason.Aborted : (CompletionReason)(fault >= 0 ? fault : Volatile.Read(ref _closedFirst));
        _ended.RelayEnded(new RelayResult(_bytesFromClient, _bytesFromBackend, reason) { Unexpected = unexpected });
    }

    // Most relays sit here, waiting to read, most of the time; whatever this method keeps across an await
    // is held by every idle relay, twice. So it keeps little: the sending and the byte counts live in
    // RelayReadAsync, whose pooled state machine exists only while bytes are on their way. A fault is a value
    // here (the side at fault), not an exception thrown to carry it: a reset already costs the exceptions the
    // socket layer throws.
    private async Task PumpAsync(RelayEnd from, RelayEnd to, Side side)
    {
        try
        {
            Side faulted;
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await from.Input.ReadAsync().ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // A read fails only because this side's connection is gone: ConnectionResetException
                    // for a peer's reset, ConnectionAbortedException (an OperationCanceledException) or
                    // ObjectDisposedException when the other pump or Abort closed it.
                    faulted = side;
                    break;
                }

                if (Volatile.Read(ref _readsShut) == (int)side)
                {
                    // The other side reset, and this side's reads were shut down to end this pump quietly (see Fail):
                    // it is closed with its reset now.
                    from.Reset();
                    return;
                }

                if (result.IsCanceled)
                {
                    // Either this relay is handing the client back for a retry, or a cancellation
                    // left over from an earlier attempt on the same client pipe: skip that one.
                    from.Input.AdvanceTo(result.Buffer.Start);
                    if (Volatile.Read(ref _phase) == Retrying)
                    {
                        return;
                    }

                    continue;
                }

                if (!result.Buffer.IsEmpty && Interlocked.CompareExchange(ref _phase, Spoken, Quiet) == Retrying)
                {
                    // The client spoke just as the backend reset: keep its bytes for the next backend.
                    from.Input.AdvanceTo(result.Buffer.Start);
                    return;
                }

                var completed = result.IsCompleted;
                if (!await RelayReadAsync(from, to, result.Buffer, side).ConfigureAwait(false))
                {
                    faulted = Other(side);
                    break;
                }

                if (completed)
                {
                    // The source sent FIN and every byte it sent is with the kernel: pass the half-close on, unless the
                    // other side has said FIN too and its end closes with one: the relay closes both right after this.
                    Interlocked.CompareExchange(
                        ref _closedFirst, (int)(side == Side.Client ? CompletionReason.ClientClosed : CompletionReason.BackendClosed), -1);
                    if ((InputEnded(side) && to.CloseSendsFin) || await ShutdownSendAsync(to).ConfigureAwait(false))
                    {
                        return;
                    }

                    faulted = Other(side);
                    break;
                }
            }

            if (faulted == Side.Backend && Volatile.Read(ref _fault) == -1
                && Interlocked.CompareExchange(ref _phase, Retrying, Quiet) == Quiet)
            {
                // The backend reset by itself (not an abort of ours) before anyone said anything: close it
                // alone, and stop the client pump without touching the client, which another backend can serve.
                _backend.Reset();
                _client.Input.CancelPendingRead();
                return;
            }

            // One side failed: the other side is reset too, which also ends the opposite pump.
            Fail(faulted);
            if (Volatile.Read(ref _readsShut) == (int)side)
            {
                // This pump found the other side's fault by sending to it, so its own side is the one whose reads were
                // shut down: closing it now also ends a send the opposite pump may be waiting in.
                from.Reset();
            }
        }
        catch (Exception exception)
        {
            // Nothing in a pump should throw; if something does, the relay is cut (which ends the other pump too),
            // whatever phase it was in, and the exception goes with its result, so the connection still ends in the fold.
            Interlocked.CompareExchange(ref _unexpected, exception, null);
            Interlocked.CompareExchange(ref _fault, (int)CompletionReason.Aborted, -1);
            _client.Reset();
            _backend.Reset();
        }
        finally
        {
            PumpEnded();
        }
    }

    // Sends what one read returned, segment by segment, counting the bytes as they go, then releases them
    // from the source's pipe; false when a send failed (the other side is gone). A send waits only when the
    // kernel's buffer is full; the state machine is pooled, so a relayed request allocates nothing even then.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> RelayReadAsync(RelayEnd from, RelayEnd to, ReadOnlySequence<byte> buffer, Side side)
    {
        // Bytes read are the activity, recorded before they are sent on, so the record is ordered before anyone can
        // see them. Recorded after the send completed, it could land after the peer had answered (the sending
        // thread resumes late), stamped with a later time than the bytes moved: an idle deadline pushed out by
        // nothing, which a virtual-time test caught about once in ten runs.
        RecordActivity();
        try
        {
            foreach (var segment in buffer)
            {
                try
                {
                    await to.SendAsync(segment).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is SocketException or ObjectDisposedException or IOException or InvalidOperationException)
                {
                    return false;
                }

                // Each count has one writer, its own pump, so a plain add; written with Volatile.Write only so that the
                // sampler never reads half a long where a long is written in two halves (on 64 bits it is a plain store).
                // PumpEnded reads both once both pumps have ended.
                if (side == Side.Client)
                {
                    Volatile.Write(ref _bytesFromClient, _bytesFromClient + segment.Length);
                }
                else
                {
                    Volatile.Write(ref _bytesFromBackend, _bytesFromBackend + segment.Length);
                }
            }

            return true;
        }
        finally
        {
            from.Input.AdvanceTo(buffer.End);
        }
    }

    private void RecordActivity()
    {
        if (_idleTimeout > TimeSpan.Zero)
        {
            Volatile.Write(ref _lastActivityTicks, _scheduler.Now.UtcTicks);
        }
    }

    // A half-close that fails because the peer reset meanwhile is that side's fault (false), as a failed send is;
    // one that races with a reset from the other pump changes nothing, that reset's reason stands.
    private static async ValueTask<bool> ShutdownSendAsync(RelayEnd to)
    {
        try
        {
            await to.ShutdownSendAsync().ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is IOException or InvalidOperationException)
        {
            return false;
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
        }

        return true;
    }

    // One timer per relay, moved on lazily: when it fires it checks how long the relay has really been
    // idle and either closes it or sleeps for the rest, so traffic never has to touch the timer.
    // A relay holds its timer for as long as it lives, so the timer is kept small: no delegate per relay
    // (the callback is static, the relay its state) and no disposable wrapper around it.
    private static readonly IDisposable NoMoreIdleChecks = Disposable.Empty;

    private void ScheduleIdleCheck(TimeSpan due)
    {
        var timer = _scheduler.Schedule(this, due, static (_, relay) =>
        {
            relay.CheckIdle();
            return Disposable.Empty;
        });

        // The check that scheduled this one has fired, so the timer replaced needs no disposing; if the relay
        // has ended meanwhile, the new timer is disposed at once.
        var current = Volatile.Read(ref _idleTimer);
        while (current != NoMoreIdleChecks)
        {
            var seen = Interlocked.CompareExchange(ref _idleTimer, timer, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }

        timer.Dispose();
    }

    private void CheckIdle()
    {
        var idle = TimeSpan.FromTicks(_scheduler.Now.UtcTicks - Volatile.Read(ref _lastActivityTicks));
        if (idle < _idleTimeout)
        {
            ScheduleIdleCheck(_idleTimeout - idle);
        }
        else if (Interlocked.CompareExchange(ref _fault, (int)CompletionReason.IdleTimeout, -1) == -1)
        {
            // An orderly close: both peers get a FIN, and both pumps see the end of their input.
            _client.ShutdownBoth();
            _backend.ShutdownBoth();
        }
    }

    private void Fail(CompletionReason reason)
    {
        if (Volatile.Read(ref _phase) != Retrying && Interlocked.CompareExchange(ref _fault, (int)reason, -1) == -1)
        {
            _client.Reset();
            _backend.Reset();
        }
    }

    // A side reset (or failed a send): it is reset at once. The other side's reads are shut down rather than its
    // socket closed under them: its pump then reads an end of stream, not an abort thrown as an exception (and
    // rethrown by the pipe), and closes that side with a reset itself. A pump waiting in a send to that side is
    // released by that close, or by the pump that found the fault (see PumpAsync).
    private void Fail(Side faulted)
    {
        if (Volatile.Read(ref _phase) != Retrying
            && Interlocked.CompareExchange(ref _fault, (int)(faulted == Side.Client ? CompletionReason.ClientReset : CompletionReason.BackendReset), -1) == -1)
        {
            var (atFault, other) = faulted == Side.Client ? (_client, _backend) : (_backend, _client);
            atFault.Reset();
            Volatile.Write(ref _readsShut, (int)Other(faulted));
            other.ShutdownReadsForReset();
        }
    }

    private static Side Other(Side side) => side == Side.Client ? Side.Backend : Side.Client;

    // Records that this side's input has ended with a FIN, and says whether the other side's had already.
    private bool InputEnded(Side side)
    {
        var before = Interlocked.Or(ref _inputsEnded, 1 << (int)side);
        return (before & (1 << (int)Other(side))) != 0;
    }
}

/// <summary>How a relay ended.</summary>
/// <param name="BytesFromClient">Bytes relayed from the client to the backend.</param>
/// <param name="BytesFromBackend">Bytes relayed from the backend to the client.</param>
/// <param name="Reason">How it ended: which side closed or reset first.</param>
/// <param name="Retriable">The backend reset before either side said anything; the client is untouched and can be tried elsewhere.</param>
internal readonly record struct RelayResult(long BytesFromClient, long BytesFromBackend, CompletionReason Reason, bool Retriable = false)
{
    /// <summary>What the relay threw, if it ever did (a bug, not a peer's doing): it was aborted, both sockets closed.</summary>
    public Exception? Unexpected { get; init; }
}

/// <summary>Hears how a relay ended, once, when both directions have ended and both sockets are closed.</summary>
internal interface IRelayEndObserver
{
    /// <summary>The relay has ended; runs on the thread that ended its last direction.</summary>
    void RelayEnded(RelayResult result);
}

/// <summary>A relay's end as a task, for callers that await it.</summary>
internal sealed class RelayEndTask : IRelayEndObserver
{
    private readonly TaskCompletionSource<RelayResult> _source = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<RelayResult> Task => _source.Task;

    public void RelayEnded(RelayResult result) => _source.TrySetResult(result);
}
