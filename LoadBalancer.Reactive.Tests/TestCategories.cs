namespace LoadBalancer.Reactive.Tests;

/// <summary>
/// The trait every test class carries, so the suite splits by speed:
/// <c>dotnet test LoadBalancer.sln --filter Category=VirtualTime</c> runs the fast tests alone.
/// A class with any socket test is Loopback, and with any child process, Process.
/// </summary>
public static class TestCategories
{
    /// <summary>The trait's name, as written in a <c>--filter</c>.</summary>
    public const string Name = "Category";

    /// <summary>No socket and no process: pure functions and virtual time. Seconds for all of them.</summary>
    public const string VirtualTime = "VirtualTime";

    /// <summary>Real sockets on 127.0.0.1 (a balancer, backends, clients, a host), in this process.</summary>
    public const string Loopback = "Loopback";

    /// <summary>Starts processes: the Quickstart as a child process, dotnet pack and run.</summary>
    public const string Process = "Process";
}
