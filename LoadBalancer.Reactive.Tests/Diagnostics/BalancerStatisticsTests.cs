using System.Net.Sockets;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Diagnostics;

/// <summary>The stats page's numbers: counted from real relayed connections and membership changes.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class BalancerStatisticsTests
{
    [Fact]
    public async Task Statistics_CountConnectionsAndBytesPerBackend_AndTheLastChangeOfState()
    {
        await using var first = LoopbackServer.Echo();
        await using var second = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(first.Address), new(second.Address)],
            Strategy = "round-robin",
            HealthCheck = Balancers.NoHealthChecks,
        });
        using var events = new EventRecorder(balancer.Events);
        Assert.NotNull(balancer.Statistics.Started);
        Assert.All(balancer.Statistics.Backends, row => Assert.Equal("UP", row.Status));

        // Four connections, alternating: each backend echoes "hello" twice, so 10 bytes each way each.
        for (var i = 0; i < 4; i++)
        {
            using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
            await Loopback.SendAllAsync(client, "hello"u8.ToArray());
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal("hello"u8.ToArray(), await Loopback.ReadToEndAsync(client));
            await events.WaitForAsync<ConnectionCompleted>(i + 1);
        }

        balancer.DrainBackend(second.Address);
        await events.WaitForAsync<BackendMembershipChanged>(2);

        var statistics = balancer.Statistics;
        Assert.Equal(4, statistics.Accepted);
        Assert.Equal(0, statistics.Rejected);
        Assert.Equal(0, statistics.ActiveConnections);
        Assert.Equal(4, statistics.TotalConnections);
        Assert.Equal(20, statistics.BytesFromClient);
        Assert.Equal(20, statistics.BytesFromBackend);
        Assert.All(statistics.Backends, row => Assert.Equal((10, 10, 2), (row.BytesFromClient, row.BytesFromBackend, row.Completed)));

        var (up, drained) = (statistics.Backends[0], statistics.Backends[1]);
        Assert.Equal(("UP", null, null), (up.Status, up.LastChange, up.LastChangeReason));
        Assert.Equal("DRAIN", drained.Status);
        Assert.Equal("drained", drained.LastChangeReason);
        Assert.NotNull(drained.LastChange);
    }

    [Fact]
    public async Task Statistics_CountRefusedAndFailedConnections()
    {
        var (holder, refusing) = Loopback.RefusingEndPoint();
        using (holder)
        {
            await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
            {
                Backends = [new(refusing.ToString())],
                HealthCheck = Balancers.NoHealthChecks,
                MaxConnectAttempts = 1,
            });
            using var events = new EventRecorder(balancer.Events);

            using (var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]))
            {
                await Loopback.ReadToEndAsync(client);
            }

            await events.WaitForAsync<ConnectionFailed>();
            var statistics = balancer.Statistics;
            Assert.Equal((1, 1, 0), (statistics.Accepted, statistics.Failed, statistics.Rejected));
            Assert.Equal(1, statistics.Backends[0].Backend.FailedConnections);
        }
    }
}
