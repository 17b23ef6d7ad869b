using System.Net.Sockets;
using LoadBalancer.Reactive.Listening;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Reactive.Testing;
using static LoadBalancer.Reactive.Tests.Infrastructure.VirtualTime;

namespace LoadBalancer.Reactive.Tests.Listening;

/// <summary>
/// The accept loop on virtual time, over a scripted accept instead of a listening socket: each accept takes
/// the next scripted outcome at once (a client, or an exception), and waits for cancellation once the script
/// has run out, as an idle listener does. Clients are strings; the loop does not care what it accepts.
/// (The socket overload runs under every loopback test of the balancer.)
/// </summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class AcceptLoopTests : ReactiveTest
{
    private static readonly long s_disposed = Seconds(60);

    private readonly TestScheduler _scheduler = new();
    private readonly ITestableObserver<SocketException> _errors;
    private readonly List<long> _acceptedAt = [];
    private readonly List<CancellationToken> _tokens = [];

    public AcceptLoopTests() => _errors = _scheduler.CreateObserver<SocketException>();

    [Fact]
    public async Task Observe_AcceptedClients_AreEmittedInOrder_AndTheLoopWaitsForTheNext()
    {
        var results = await StartAsync(Accepts("a", "b", "c"));

        Assert.Equal([OnNext(200, "a"), OnNext(200, "b"), OnNext(200, "c")], results.Messages);
        Assert.Equal([200, 200, 200, 200], _acceptedAt);
        Assert.Empty(_errors.Messages);
    }

    [Fact]
    public async Task Observe_FailingAccepts_AreReportedAndPauseWithExponentialBackOffUpToASecond()
    {
        var failures = Enumerable.Range(0, 9).Select(_ => (object)Failure(SocketError.TooManyOpenSockets));

        var results = await StartAsync(Accepts([.. failures, "a"]));

        // Then "a" is accepted, and the next accept follows at once.
        Assert.Equal([10, 20, 40, 80, 160, 320, 640, 1_000, 1_000, 0], Pauses());
        Assert.Equal(_acceptedAt[..9], _errors.Messages.Select(m => m.Time));
        Assert.All(_errors.Messages, m => Assert.Equal(SocketError.TooManyOpenSockets, m.Value.Value.SocketErrorCode));
        Assert.Equal([OnNext(_acceptedAt[9], "a")], results.Messages);
    }

    [Fact]
    public async Task Observe_ASuccess_ResetsTheBackOff()
    {
        var reset = Failure(SocketError.ConnectionReset);

        var results = await StartAsync(Accepts(reset, reset, reset, "a", reset, "b"));

        Assert.Equal([10, 20, 40, 0, 10, 0], Pauses());
        Assert.Equal([OnNext(_acceptedAt[3], "a"), OnNext(_acceptedAt[5], "b")], results.Messages);
        Assert.Equal([_acceptedAt[0], _acceptedAt[1], _acceptedAt[2], _acceptedAt[4]], _errors.Messages.Select(m => m.Time));
    }

    [Fact]
    public async Task Observe_Disposed_EndsTheLoop_CancellingTheAcceptItWaitsOn()
    {
        var results = await StartAsync(Accepts("a"), disposed: Seconds(10));

        Assert.Equal([OnNext(200, "a")], results.Messages);
        Assert.Equal(2, _tokens.Count);
        Assert.True(_tokens[^1].IsCancellationRequested);
    }

    [Fact]
    public async Task Observe_DisposedWhilePausing_EndsTheLoopWithoutAnotherAccept()
    {
        // Failing for ever: pauses of 10, 20, 40 and 80 ms have passed 150 ms in; disposed 200 ms in, the pause
        // of 160 ms that started at 150 ms is cut short, and no accept follows it.
        var failing = Enumerable.Range(0, 100).Select(_ => (object)Failure(SocketError.ConnectionReset));

        var results = await StartAsync(Accepts([.. failing]), disposed: 200 + Seconds(0.2));

        Assert.Empty(results.Messages);
        Assert.Equal([10, 20, 40, 80], Pauses());
        Assert.Equal(5, _errors.Messages.Count);
        // The clock stopped at the disposal: the pause's timer was cancelled, not run.
        Assert.Equal(200 + Seconds(0.2), _scheduler.Clock);
    }

    public static TheoryData<Exception> StopErrors() =>
    [
        new ObjectDisposedException("listener"),
        new SocketException((int)SocketError.OperationAborted),
        new SocketException((int)SocketError.Interrupted),
        new OperationCanceledException(),
    ];

    [Theory]
    [MemberData(nameof(StopErrors))]
    public async Task Observe_StopErrors_EndTheLoopQuietly(Exception stop)
    {
        var results = await StartAsync(Accepts("a", stop, "never accepted"));

        Assert.Equal([OnNext(200, "a"), OnCompleted<string>(200)], results.Messages);
        Assert.Empty(_errors.Messages);
        Assert.Equal(2, _acceptedAt.Count);
    }

    [Fact]
    public async Task Observe_AnythingButASocketError_EndsTheStreamWithIt()
    {
        var bug = new InvalidOperationException("not a socket fault");

        var results = await StartAsync(Accepts("a", bug));

        Assert.Equal([OnNext(200, "a"), OnError<string>(200, bug)], results.Messages);
        Assert.Empty(_errors.Messages);
    }

    // Subscribes at ReactiveTest's tick 200 and disposes a minute in, unless told otherwise. The scheduler runs off
    // xunit's synchronization context, so the loop's continuation after a pause runs inline when its timer fires,
    // inside virtual time, as it would on any scheduler without one.
    private async Task<ITestableObserver<string>> StartAsync(Func<CancellationToken, ValueTask<string>> accept, long? disposed = null) =>
        await Task.Run(() => _scheduler.Start(() => AcceptLoop.Observe(accept, _scheduler, _errors.OnNext), disposed ?? s_disposed))
            .WaitAsync(Loopback.Timeout);

    // An accept that takes the next outcome at once: a string is a client, an exception is thrown. When the
    // script has run out, it waits until the loop cancels it.
    private Func<CancellationToken, ValueTask<string>> Accepts(params object[] outcomes)
    {
        var script = new Queue<object>(outcomes);
        return cancellationToken =>
        {
            _acceptedAt.Add(_scheduler.Clock);
            _tokens.Add(cancellationToken);
            return script.TryDequeue(out var outcome)
                ? outcome switch
                {
                    string client => ValueTask.FromResult(client),
                    Exception error => ValueTask.FromException<string>(error),
                    _ => throw new ArgumentException("a client or an exception", nameof(outcomes)),
                }
                : new ValueTask<string>(new TaskCompletionSource<string>().Task.WaitAsync(cancellationToken));
        };
    }

    private static SocketException Failure(SocketError error) => new((int)error);

    // The virtual time between one accept and the next, in milliseconds.
    private List<long> Pauses() =>
        [.. _acceptedAt.Zip(_acceptedAt.Skip(1), (before, after) => (after - before) / TimeSpan.TicksPerMillisecond)];
}
