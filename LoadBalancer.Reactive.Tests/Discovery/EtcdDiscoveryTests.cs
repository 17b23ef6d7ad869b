using System.Reactive.Concurrency;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Discovery;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Fleet;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Discovery;

[Trait(TestCategories.Name, TestCategories.Process)]
public class EtcdDiscoveryTests
{
    private const string Prefix = "/lb";

    [Fact]
    public async Task Watch_PrefixReadThenChanged_EmitsEachSetInKeyOrder()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await etcd.PutAsync("/lb/backends/b", """{"address":"127.0.0.1:9002","weight":3}""");
        await etcd.PutAsync("/lb/backends/a", """{"address":"127.0.0.1:9001","state":"drain","pool":"web"}""");
        await etcd.PutAsync("/lb/other", "not a backend");
        var watch = new Recording();
        using var subscription = EtcdDiscovery.Watch([etcd.Url], Prefix, report: watch.Report).Subscribe(watch.Sets.Enqueue);

        await watch.WaitForAsync("127.0.0.1:9001@1/Draining/web|127.0.0.1:9002@3/Active/");
        await etcd.PutAsync("/lb/backends/c", """{"address":"127.0.0.1:9003","state":"disabled"}""");
        await watch.WaitForAsync("127.0.0.1:9001@1/Draining/web|127.0.0.1:9002@3/Active/|127.0.0.1:9003@1/Disabled/");
        await etcd.DeleteAsync("/lb/backends/a");
        await watch.WaitForAsync("127.0.0.1:9002@3/Active/|127.0.0.1:9003@1/Disabled/");

        Assert.Equal(3, watch.Sets.Count);
        Assert.Empty(watch.Reports);
    }

    [Fact]
    public async Task Watch_MalformedKeys_ReportedByNameAndIgnoredTheRestApplies()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await etcd.PutAsync("/lb/backends/good", """{"address":"127.0.0.1:9001"}""");
        await etcd.PutAsync("/lb/backends/not-json", "{address");
        var watch = new Recording();
        using var subscription = EtcdDiscovery.Watch([etcd.Url], Prefix, report: watch.Report).Subscribe(watch.Sets.Enqueue);
        await watch.WaitForAsync("127.0.0.1:9001@1/Active/");

        await etcd.PutAsync("/lb/backends/bad-state", """{"address":"127.0.0.1:9002","state":"sleeping"}""");
        await etcd.PutAsync("/lb/backends/bad-address", """{"address":"nowhere"}""");
        await etcd.PutAsync("/lb/backends/twin", """{"address":"127.0.0.1:9001"}""");
        await etcd.PutAsync("/lb/backends/later", """{"address":"127.0.0.1:9003","weight":2}""");
        await watch.WaitForAsync("127.0.0.1:9001@1/Active/|127.0.0.1:9003@2/Active/");
        await Loopback.WaitUntilAsync(() => watch.Reports.Count >= 4, "four keys are reported");

        var reported = watch.Reports.ToList();
        Assert.All(reported, report => Assert.Equal(DiscoveryReportKind.EntryIgnored, report.Kind));
        Assert.Contains(reported, r => r.Message.Contains("'/lb/backends/not-json'") && r.Message.Contains("not JSON"));
        Assert.Contains(reported, r => r.Message.Contains("'/lb/backends/bad-state'") && r.Message.Contains("sleeping"));
        Assert.Contains(reported, r => r.Message.Contains("'/lb/backends/bad-address'"));
        Assert.Contains(reported, r => r.Message.Contains("'/lb/backends/twin'") && r.Message.Contains("already named"));
        Assert.Equal(4, reported.Count);
    }

    [Fact]
    public async Task Watch_BrokenMidStream_ResumesFromTheLastRevisionMissingNothing()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var proxy = new CuttableProxy(etcd.EndPoint);
        await etcd.PutAsync("/lb/backends/a", """{"address":"127.0.0.1:9001"}""");
        var watch = new Recording();
        using var subscription = EtcdDiscovery.Watch([proxy.Url], Prefix, report: watch.Report).Subscribe(watch.Sets.Enqueue);
        await watch.WaitForAsync("127.0.0.1:9001@1/Active/");

        proxy.Cut();
        await Loopback.WaitUntilAsync(() => watch.Reports.Any(r => r.Kind == DiscoveryReportKind.Unavailable), "the broken watch is reported");
        await etcd.PutAsync("/lb/backends/b", """{"address":"127.0.0.1:9002"}""");
        await etcd.PutAsync("/lb/backends/c", """{"address":"127.0.0.1:9003","weight":5}""");
        await etcd.DeleteAsync("/lb/backends/a");
        proxy.Restore();

        await watch.WaitForAsync("127.0.0.1:9002@1/Active/|127.0.0.1:9003@5/Active/");
        await Loopback.WaitUntilAsync(() => watch.Reports.Any(r => r.Kind == DiscoveryReportKind.Recovered), "the recovery is reported");

        // Resumed from the revision of the first put (2), the changes replay in order: each set after the break is a
        // step of the history, none repeated, and nothing was emitted while etcd could not be reached.
        var history = new[]
        {
            "127.0.0.1:9001@1/Active/",
            "127.0.0.1:9001@1/Active/|127.0.0.1:9002@1/Active/",
            "127.0.0.1:9001@1/Active/|127.0.0.1:9002@1/Active/|127.0.0.1:9003@5/Active/",
            "127.0.0.1:9002@1/Active/|127.0.0.1:9003@5/Active/",
        };
        var seen = watch.Sets.Select(Recording.Signature).ToList();
        Assert.Equal(seen.Distinct().Count(), seen.Count);
        Assert.All(seen, set => Assert.Contains(set, history));
        Assert.Equal(seen.OrderBy(set => Array.IndexOf(history, set)), seen);
        Assert.Contains(watch.Reports, r => r.Kind == DiscoveryReportKind.Recovered && r.Message.Contains("from revision 2"));
    }

    [Fact]
    public async Task Watch_EtcdDownAtFirst_EmitsNothingUntilItAnswers()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await etcd.PutAsync("/lb/backends/a", """{"address":"127.0.0.1:9001"}""");
        await etcd.KillAsync();
        var watch = new Recording();
        using var subscription = EtcdDiscovery.Watch([etcd.Url], Prefix, report: watch.Report).Subscribe(watch.Sets.Enqueue);

        await Loopback.WaitUntilAsync(() => watch.Reports.Any(r => r.Kind == DiscoveryReportKind.Unavailable), "etcd is reported unavailable");
        Assert.Empty(watch.Sets);
        Assert.Contains(etcd.Url, watch.Reports.First().Message);

        await etcd.RestartAsync();
        await watch.WaitForAsync("127.0.0.1:9001@1/Active/");
        Assert.Single(watch.Sets);
        Assert.Equal(
            [DiscoveryReportKind.Unavailable, DiscoveryReportKind.Recovered],
            watch.Reports.Select(r => r.Kind).Distinct());
    }

    [Fact]
    public async Task Watch_EtcdUnreachable_RetriesOnlyAsTheSchedulersBackOffElapses()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var proxy = new CuttableProxy(etcd.EndPoint);
        proxy.Cut();
        var scheduler = new Microsoft.Reactive.Testing.TestScheduler();
        var watch = new Recording();
        using var subscription = EtcdDiscovery.Watch([proxy.Url], Prefix, scheduler, watch.Report).Subscribe(watch.Sets.Enqueue);
        await Loopback.WaitUntilAsync(() => watch.Reports.Count == 1, "the first failure is reported");

        // etcd is back, but virtual time stands still: the watch waits out its back-off, however long the test waits.
        proxy.Restore();
        await Task.Delay(500);
        Assert.Empty(watch.Sets);
        Assert.DoesNotContain(watch.Reports, r => r.Kind == DiscoveryReportKind.Recovered);

        // As virtual time passes it retries (the gRPC channel's own reconnect pause may fail a retry fast) until one gets through.
        var deadline = DateTime.UtcNow + Loopback.Timeout;
        while (!watch.Reports.Any(r => r.Kind == DiscoveryReportKind.Recovered))
        {
            Assert.True(DateTime.UtcNow < deadline, "no retry reached etcd");
            scheduler.AdvanceBy(EtcdDiscovery.Backoff(int.MaxValue).Ticks);
            await Task.Delay(50);
        }

        Assert.Single(watch.Sets);
        Assert.Single(watch.Reports, r => r.Kind == DiscoveryReportKind.Unavailable);
    }

    [Fact]
    public void Watch_BadEndpoint_ThrowsNamingIt()
    {
        var exception = Assert.Throws<ArgumentException>(() => EtcdDiscovery.Watch(["127.0.0.1:2379"], Prefix, Scheduler.Default));
        Assert.Contains("'127.0.0.1:2379'", exception.Message);
        Assert.Throws<ArgumentException>(() => EtcdDiscovery.Watch([], Prefix));
    }

    /// <summary>What a watch emitted and reported.</summary>
    private sealed class Recording
    {
        public System.Collections.Concurrent.ConcurrentQueue<IReadOnlyList<BackendOptions>> Sets { get; } = new();

        public System.Collections.Concurrent.ConcurrentQueue<DiscoveryReported> Reports { get; } = new();

        public void Report(DiscoveryReported report) => Reports.Enqueue(report);

        public static string Signature(IReadOnlyList<BackendOptions> set) =>
            string.Join("|", set.Select(b => $"{b.Address}@{b.Weight}/{b.State}/{b.Pool}"));

        public Task WaitForAsync(string signature) =>
            Loopback.WaitUntilAsync(() => Sets.LastOrDefault() is { } last && Signature(last) == signature, $"the set is {signature}");
    }
}
