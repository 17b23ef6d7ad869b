using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;

namespace LoadBalancer.Reactive.Tests.Balancing;

/// <summary>
/// The backend tree keeps, per subtree, what strategies search by; after any sequence of replacements its answers
/// must be those of a plain scan of the same backends.
/// </summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class BackendListTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 2)]
    [InlineData(3, 3)]
    [InlineData(16, 4)]
    [InlineData(17, 5)]
    [InlineData(100, 6)]
    [InlineData(1_000, 7)]
    public void SetItem_RandomChanges_SearchesAgreeWithAScan(int count, int seed)
    {
        var random = new Random(seed);
        var backends = Enumerable.Range(0, count).Select(i => Backend(random, i)).ToArray();
        var list = BackendList.From(backends.AsSpan());

        for (var change = 0; change < 400; change++)
        {
            AssertAgrees(backends, list, random);
            if (count == 0)
            {
                return;
            }

            var index = random.Next(count);
            var before = list;
            backends[index] = Backend(random, index);
            list = list.SetItem(index, backends[index]);

            var changed = new List<int>();
            list.ForEachChanged(before, changed.Add);
            Assert.Equal([index], changed);
        }
    }

    [Fact]
    public void AddAndRemoveAt_KeepTheOrder()
    {
        var random = new Random(9);
        var list = BackendList.From(Enumerable.Range(0, 20).Select(i => Backend(random, i)));
        var added = Backend(random, 20);

        var grown = list.Add(added);
        var shrunk = grown.RemoveAt(3);

        Assert.Equal([.. list, added], grown);
        Assert.Equal([.. list.Take(3), .. list.Skip(4), added], shrunk);
        Assert.Equal(shrunk.ToImmutableArray(), shrunk.ToImmutableArray());
    }

    private static BackendSnapshot Backend(Random random, int index) =>
        new($"10.0.{index / 250}.{(index % 250) + 1}:80", random.Next(4) == 0 ? random.Next(0, 4) : 1, random.Next(0, 5), 0)
        {
            Healthy = random.Next(5) > 0,
            Draining = random.Next(10) == 0,
            MaxConnections = random.Next(6) == 0 ? 3 : 0,
            SlowStartPercent = random.Next(4) == 0 ? 10 * random.Next(1, 10) : 100,
        };

    private static void AssertAgrees(BackendSnapshot[] backends, BackendList list, Random random)
    {
        var available = Enumerable.Range(0, backends.Length).Where(i => backends[i].Available).ToArray();
        Assert.Equal(backends, list);
        Assert.Equal(backends.Length, list.Count);
        Assert.Equal(available.Length, list.AvailableCount);
        Assert.Equal(available.Sum(i => backends[i].EffectiveWeight), list.AvailableWeight);
        for (var n = 0; n < available.Length; n++)
        {
            Assert.Equal(available[n], list.NthAvailable(n));
        }

        for (var start = 0; start <= backends.Length; start++)
        {
            Assert.Equal(available.Where(i => i >= start).DefaultIfEmpty(-1).First(), list.FirstAvailableFrom(start));
            Assert.Equal(available.Where(i => i < start).Sum(i => backends[i].EffectiveWeight), list.AvailableWeightBefore(start));
        }

        AssertLeast<LeastConnectionsStrategy>(backends, available, list);
        AssertLeast<WeightedLeastConnectionsStrategy>(backends, available, list);
        for (var draw = 0; draw < 20 && list.AvailableWeight > 0; draw++)
        {
            var ticket = random.NextInt64(list.AvailableWeight);
            var running = 0L;
            Assert.Equal(available.First(i => (running += backends[i].EffectiveWeight) > ticket), list.FindByWeight(ticket));
        }
    }

    private static void AssertLeast<TComparer>(BackendSnapshot[] backends, int[] available, BackendList list)
        where TComparer : ILoadComparer
    {
        var least = TComparer.LeastIn(list);
        if (available.Length == 0)
        {
            Assert.Null(least);
            return;
        }

        Assert.NotNull(least);
        Assert.All(available, i => Assert.False(TComparer.LessLoaded(backends[i], least)));
        for (var start = 0; start < backends.Length; start++)
        {
            var expected = available.Where(i => i >= start && !TComparer.LessLoaded(least, backends[i])).DefaultIfEmpty(-1).First();
            Assert.Equal(expected, list.FirstAsLeastFrom<TComparer>(start, least));
        }
    }
}
