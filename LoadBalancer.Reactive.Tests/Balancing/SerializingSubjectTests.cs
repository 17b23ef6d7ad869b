using LoadBalancer.Reactive.Balancing;

namespace LoadBalancer.Reactive.Tests.Balancing;

public class SerializingSubjectTests
{
    [Fact]
    public void OnNext_BeforeSubscribe_IsDeliveredOnSubscribe()
    {
        var subject = new SerializingSubject<int>();
        var seen = new List<int>();
        subject.OnNext(1);
        subject.OnNext(2);

        using var _ = subject.Subscribe(seen.Add);

        Assert.Equal([1, 2], seen);
    }

    [Fact]
    public void OnCompleted_AfterQueuedValues_ComesLast()
    {
        var subject = new SerializingSubject<int>();
        var seen = new List<string>();
        using var _ = subject.Subscribe(v => seen.Add(v.ToString()), () => seen.Add("done"));

        subject.OnNext(1);
        subject.OnCompleted();
        subject.OnNext(2);

        Assert.Equal(["1", "done"], seen);
    }

    [Fact]
    public void OnError_IsDelivered()
    {
        var subject = new SerializingSubject<int>();
        Exception? seen = null;
        using var _ = subject.Subscribe(_ => { }, e => seen = e);
        var error = new InvalidOperationException();

        subject.OnError(error);

        Assert.Same(error, seen);
    }

    [Fact]
    public void Subscribe_Twice_Throws()
    {
        var subject = new SerializingSubject<int>();
        using var _ = subject.Subscribe(_ => { });

        Assert.Throws<InvalidOperationException>(() => subject.Subscribe(_ => { }));
    }

    [Fact]
    public void Dispose_StopsDelivery()
    {
        var subject = new SerializingSubject<int>();
        var seen = new List<int>();
        var subscription = subject.Subscribe(seen.Add);

        subject.OnNext(1);
        subscription.Dispose();
        subject.OnNext(2);

        Assert.Equal([1], seen);
    }

    [Fact]
    public void OnNext_ThrowingSubscriber_DoesNotWedgeTheStream()
    {
        var subject = new SerializingSubject<int>();
        var seen = new List<int>();
        using var _ = subject.Subscribe(v =>
        {
            seen.Add(v);
            if (v == 1)
            {
                throw new InvalidOperationException("subscriber bug");
            }
        });

        Assert.Throws<InvalidOperationException>(() => subject.OnNext(1));
        subject.OnNext(2);

        Assert.Equal([1, 2], seen);
    }
}
