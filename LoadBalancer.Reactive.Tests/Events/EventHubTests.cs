using System.Reactive.Concurrency;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Events;

[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class EventHubTests
{
    private static readonly LoadBalancerEvent s_event = new BalancerStopped(0, 0);

    [Fact]
    public async Task Publish_ReachesEverySubscriberInOrder()
    {
        var hub = new EventHub(100, ImmediateScheduler.Instance);
        using var first = new EventRecorder(hub);
        using var second = new EventRecorder(hub);

        for (var i = 0; i < 10; i++)
        {
            hub.Publish(new BalancerStopped(i, 0));
        }

        foreach (var recorder in new[] { first, second })
        {
            var seen = await recorder.WaitForAsync<BalancerStopped>(10);
            Assert.Equal(Enumerable.Range(0, 10), seen.Select(e => e.Finished));
        }
    }

    [Fact]
    public async Task Publish_ThrowingSubscriber_IsReportedAndKeepsItsSubscription()
    {
        var hub = new EventHub(100, ImmediateScheduler.Instance);
        var calls = 0;
        using var throwing = hub.Subscribe(new LambdaObserver(_ =>
        {
            Interlocked.Increment(ref calls);
            throw new InvalidOperationException("subscriber bug");
        }));
        using var recorder = new EventRecorder(hub);

        hub.Publish(s_event);
        hub.Publish(s_event);

        var faults = await recorder.WaitForAsync<SubscriberFaulted>(2);
        Assert.All(faults, fault => Assert.Equal("subscriber bug", fault.Exception.Message));
        await recorder.WaitForAsync<BalancerStopped>(2);
    }

    [Fact]
    public async Task Publish_SlowSubscriber_NeverBlocksAndIsToldWhatItMissed()
    {
        var hub = new EventHub(capacity: 4, ImmediateScheduler.Instance);
        using var gate = new ManualResetEventSlim();
        var seen = new List<LoadBalancerEvent>();
        var done = new TaskCompletionSource();
        using var slow = hub.Subscribe(new LambdaObserver(
            e =>
            {
                gate.Wait(Loopback.Timeout);
                lock (seen)
                {
                    seen.Add(e);
                }
            },
            () => done.SetResult()));

        // 1,000 publishes return at once although the subscriber is stuck on its first event.
        var publishing = Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                hub.Publish(new BalancerStopped(i, 0));
            }
        });
        await publishing.WaitAsync(Loopback.Timeout);

        gate.Set();
        hub.Complete();
        await done.Task.WaitAsync(Loopback.Timeout);

        var dropped = seen.OfType<EventsDropped>().Sum(e => e.Count);
        var delivered = seen.OfType<BalancerStopped>().Count();
        Assert.True(dropped > 0);
        Assert.Equal(1000, dropped + delivered);
    }

    [Fact]
    public async Task Complete_CompletesSubscribersAndLateSubscribers()
    {
        var hub = new EventHub(100, ImmediateScheduler.Instance);
        using var early = new EventRecorder(hub);

        hub.Complete();
        using var late = new EventRecorder(hub);

        await Task.Run(async () =>
        {
            while (!early.Completed)
            {
                await Task.Yield();
            }
        }).WaitAsync(Loopback.Timeout);
        Assert.True(late.Completed);
    }

    [Fact]
    public async Task Dispose_StopsDelivery()
    {
        var hub = new EventHub(100, ImmediateScheduler.Instance);
        var recorder = new EventRecorder(hub);
        using var witness = new EventRecorder(hub);
        recorder.Dispose();

        hub.Publish(s_event);

        await witness.WaitForAsync<BalancerStopped>();
        Assert.Empty(recorder.Events);
    }

    private sealed class LambdaObserver(Action<LoadBalancerEvent> onNext, Action? onCompleted = null) : IObserver<LoadBalancerEvent>
    {
        public void OnNext(LoadBalancerEvent value) => onNext(value);

        public void OnError(Exception error)
        {
        }

        public void OnCompleted() => onCompleted?.Invoke();
    }
}
