using System.Reactive.Concurrency;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Relaying;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Relaying;

/// <summary>How a relay reports its end: once, after both directions, and even when something in it throws.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public sealed class RelayEndTests
{
    [Fact]
    public async Task BothSidesFinish_EndIsReportedOnce_WithTheBytesAndWhoClosedFirst()
    {
        var (client, backend, ended) = (new MemoryEnd(), new MemoryEnd(), new CountingEnd());
        DuplexRelay.Create(client, backend, ImmediateScheduler.Instance, TimeSpan.Zero, ended).Run();

        await client.SayAsync(5);
        client.Finish();
        Assert.Equal(0, ended.Count);
        await backend.SayAsync(7);
        backend.Finish();

        var result = await ended.Result.WaitAsync(Loopback.Timeout);
        Assert.Equal((5, 7, CompletionReason.ClientClosed, null), (result.BytesFromClient, result.BytesFromBackend, result.Reason, result.Unexpected));
        Assert.Equal(1, ended.Count);
        Assert.True(client.Closed && backend.Closed);
    }

    [Fact]
    public async Task SendThrowsSomethingUnexpected_RelayIsAborted_AndItsEndCarriesTheException()
    {
        var (client, backend, ended) = (new MemoryEnd(), new MemoryEnd { SendThrows = true }, new CountingEnd());
        DuplexRelay.Create(client, backend, ImmediateScheduler.Instance, TimeSpan.Zero, ended).Run();

        await client.SayAsync(3);

        var result = await ended.Result.WaitAsync(Loopback.Timeout);
        Assert.Equal(CompletionReason.Aborted, result.Reason);
        Assert.IsType<NotSupportedException>(result.Unexpected);
        Assert.Equal(1, ended.Count);
        Assert.True(client.WasReset && backend.WasReset && client.Closed && backend.Closed);
    }

    [Fact]
    public async Task AbortedBeforeItRuns_EndsAtOnceWhenRun()
    {
        var (client, backend, ended) = (new MemoryEnd(), new MemoryEnd(), new CountingEnd());
        var relay = DuplexRelay.Create(client, backend, ImmediateScheduler.Instance, TimeSpan.Zero, ended);

        relay.Abort();
        Assert.Equal(0, ended.Count);
        relay.Run();

        Assert.Equal(CompletionReason.Aborted, (await ended.Result.WaitAsync(Loopback.Timeout)).Reason);
    }

    private sealed class CountingEnd : IRelayEndObserver
    {
        private readonly TaskCompletionSource<RelayResult> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Task<RelayResult> Result => _result.Task;

        public void RelayEnded(RelayResult result)
        {
            Interlocked.Increment(ref _count);
            _result.TrySetResult(result);
        }
    }
}
