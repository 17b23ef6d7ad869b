using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Diagnostics;

namespace LoadBalancer.Reactive.Tests.Diagnostics;

/// <summary>A backend's state in one word, as HAProxy's stats page shows it.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class BackendStatusTests
{
    private static readonly BackendSnapshot s_up = new("10.0.0.1:80", Weight: 1, ActiveConnections: 0, TotalConnections: 0);

    [Fact]
    public void Status_NamesTheStrongestReason_MaintenanceFirst()
    {
        Assert.Equal(
            ["UP", "MAINT", "MAINT", "MAINT", "DOWN", "EJECTED", "DRAIN", "DRAIN", "FULL", "SLOW"],
            new[]
            {
                s_up,
                s_up with { Disabled = true },
                s_up with { Disabled = true, Healthy = false },
                s_up with { Weight = 0 },
                s_up with { Healthy = false },
                s_up with { Ejected = true },
                s_up with { Draining = true },
                s_up with { Removing = true, Draining = true },
                s_up with { MaxConnections = 1, ActiveConnections = 1 },
                s_up with { SlowStartPercent = 40 },
            }.Select(backend => new BackendStatistics(backend, 0, 0, 0, null, null).Status));
    }
}
