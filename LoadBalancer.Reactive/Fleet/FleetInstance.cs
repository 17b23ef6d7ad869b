namespace LoadBalancer.Reactive.Fleet;

/// <summary>A live balancer instance of the fleet, as it last registered itself.</summary>
/// <param name="Name">The instance's name.</param>
/// <param name="Listen">The endpoints it listens on.</param>
/// <param name="ActiveConnections">Connections it relayed at its last refresh.</param>
/// <param name="TotalConnections">Connections it had assigned since it started, at its last refresh.</param>
/// <param name="Updated">When it last refreshed its entry, by its own clock.</param>
public sealed record FleetInstance(string Name, IReadOnlyList<string> Listen, int ActiveConnections, long TotalConnections, DateTimeOffset Updated);
