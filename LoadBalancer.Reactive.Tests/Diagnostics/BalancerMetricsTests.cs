using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

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

        double Sum(string name, string? tag = null, object? value = null) => measurements
            .Where(m => m.Instrument == name && (tag is null || Equals(m.Tags.GetValueOrDefault(tag), value)))
            .Sum(m => m.Value);
        Assert.Equal(5, Sum("loadbalancer.connections.accepted"));
        Assert.Equal(3, Sum("loadbalancer.connections.completed", "loadbalancer.outcome", "client_closed"));
        Assert.Equal(3, Sum("loadbalancer.connections.completed", "server.port", backend.EndPoint.Port));
        Assert.All(measurements.Where(m => m.Instrument == "loadbalancer.connections.completed"), m => Assert.Equal("127.0.0.1", m.Tags["server.address"]));
        Assert.Equal(15, Sum("loadbalancer.io", "network.io.direction", "transmit"));
        Assert.Equal(15, Sum("loadbalancer.io", "network.io.direction", "receive"));
        Assert.Equal(1, Sum("loadbalancer.connections.rejected", "loadbalancer.reason", "connection_limit"));
        Assert.Equal(4, measurements.Count(m => m.Instrument == "loadbalancer.connect.duration"));
        Assert.Equal(3, measurements.Count(m => m.Instrument == "loadbalancer.connection.duration"));
        Assert.Equal(1, Sum("loadbalancer.connections.active", "server.port", backend.EndPoint.Port));
        // The balancer's limit is reached, but the backend itself has room: it is still available.
        Assert.Equal(1, Sum("loadbalancer.backend.available", "server.port", backend.EndPoint.Port));
        Assert.Equal("LoadBalancer.Reactive", TcpLoadBalancer.MeterName);
    }

    [Fact]
    public async Task Meter_CarriesEachBalancersName_SoTwoInOneProcessAreToldApart()
    {
        await using var first = new TcpLoadBalancer(Options() with { Name = "edge" });
        await using var second = new TcpLoadBalancer(Options() with { Name = "db-pool" });

        Assert.Equal(("loadbalancer.name", (object?)"edge"), Assert.Single(first.Meter.Tags!) is var a ? (a.Key, a.Value) : default);
        Assert.Equal(("loadbalancer.name", (object?)"db-pool"), Assert.Single(second.Meter.Tags!) is var b ? (b.Key, b.Value) : default);
        Assert.Equal("default", new LoadBalancerOptions().Name);
    }

    [Fact]
    public async Task Histograms_AdviseBucketsThatFitConnectTimesAndConnectionDurations()
    {
        await using var balancer = new TcpLoadBalancer(Options());
        var advice = new Dictionary<string, IReadOnlyList<double>?>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter == balancer.Meter && instrument is Histogram<double> histogram)
                {
                    advice[instrument.Name] = histogram.Advice?.HistogramBucketBoundaries;
                }
            },
        };
        listener.Start();

        // OpenTelemetry's default buckets start at 5 (milliseconds, in seconds' units: everything in the first one).
        var connect = advice["loadbalancer.connect.duration"]!;
        var duration = advice["loadbalancer.connection.duration"]!;
        Assert.True(connect[0] <= 0.0001 && connect.Count(b => b < 0.01) >= 5, string.Join(", ", connect));
        Assert.True(duration[0] <= 0.001 && duration[^1] >= 3600, string.Join(", ", duration));
    }

    [Fact]
    public async Task MeterFactory_WhenTheHostHasOne_CreatesTheBalancersMeter()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();

        await using var balancer = new TcpLoadBalancer(Options(), meterFactory: factory);

        Assert.Same(factory, balancer.Meter.Scope);
        Assert.Equal(TcpLoadBalancer.MeterName, balancer.Meter.Name);
    }

    [Theory]
    [InlineData("")]
    [InlineData("two words")]
    [InlineData("tab\t")]
    public void Validate_NameNotAToken_IsAnErrorThatNamesIt(string name)
    {
        var errors = LoadBalancerOptionsValidator.Validate(Options() with { Listen = ["127.0.0.1:0"], Name = name });

        Assert.Contains($"Name '{name}' must be letters, digits, '.', '_' or '-', and not empty.", errors);
    }

    private static LoadBalancerOptions Options() => new()
    {
        Listen = ["127.0.0.1:0"],
        Backends = [new("127.0.0.1:9")],
        HealthCheck = Balancers.NoHealthChecks,
    };

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
