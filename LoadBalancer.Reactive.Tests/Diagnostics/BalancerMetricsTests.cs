using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Diagnostics;

/// <summary>The balancer's instruments, read the way OpenTelemetry reads them: with a MeterListener.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class BalancerMetricsTests
{
    [Fact]
    public async Task Instruments_CountConnectionsBytesAndRejections_AndReadActiveAndAvailableFromTheFold()
    {
        await using var backend = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(new LoadBalancerOptions
        {
            Backends = [new(backend.Address)],
            HealthCheck = Balancers.NoHealthChecks,
            MaxConnections = 1,
        });
        using var events = new EventRecorder(balancer.Events);
        var measurements = new ConcurrentBag<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == balancer.Meter)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => measurements.Add((i.Name, v, Tags(tags))));
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => measurements.Add((i.Name, v, Tags(tags))));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => measurements.Add((i.Name, v, Tags(tags))));
        listener.Start();

        for (var i = 0; i < 3; i++)
        {
            using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
            await Loopback.SendAllAsync(client, "hello"u8.ToArray());
            client.Shutdown(SocketShutdown.Send);
            await Loopback.ReadToEndAsync(client);
            await events.WaitForAsync<ConnectionCompleted>(i + 1);
        }

        // One connection held open, so the next is refused at the limit.
        using var held = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await events.WaitForAsync<BackendConnected>(4);
        using (await Loopback.ConnectAsync(balancer.ListenEndPoints[0]))
        {
            await events.WaitForAsync<ConnectionRejected>();
        }

        listener.RecordObservableInstruments();

        double Sum(string name, string? tag = null, string? value = null) => measurements
            .Where(m => m.Instrument == name && (tag is null || Equals(m.Tags.GetValueOrDefault(tag), value)))
            .Sum(m => m.Value);
        Assert.Equal(5, Sum("loadbalancer.connections.accepted"));
        Assert.Equal(3, Sum("loadbalancer.connections.completed", "loadbalancer.outcome", "client_closed"));
        Assert.Equal(3, Sum("loadbalancer.connections.completed", "loadbalancer.backend", backend.Address));
        Assert.Equal(15, Sum("loadbalancer.io", "network.io.direction", "from_client"));
        Assert.Equal(15, Sum("loadbalancer.io", "network.io.direction", "from_backend"));
        Assert.Equal(1, Sum("loadbalancer.connections.rejected", "loadbalancer.reason", "connection_limit"));
        Assert.Equal(4, measurements.Count(m => m.Instrument == "loadbalancer.connect.duration"));
        Assert.Equal(3, measurements.Count(m => m.Instrument == "loadbalancer.connection.duration"));
        Assert.Equal(1, Sum("loadbalancer.connections.active", "loadbalancer.backend", backend.Address));
        // The balancer's limit is reached, but the backend itself has room: it is still available.
        Assert.Equal(1, Sum("loadbalancer.backend.available", "loadbalancer.backend", backend.Address));
        Assert.Equal("LoadBalancer.Reactive", TcpLoadBalancer.MeterName);
    }

    private static Dictionary<string, object?> Tags(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        return copy;
    }
}
