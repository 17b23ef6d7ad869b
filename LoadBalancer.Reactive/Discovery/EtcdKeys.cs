namespace LoadBalancer.Reactive.Discovery;

/// <summary>Where a fleet keeps things under its prefix: <c>PREFIX/backends/KEY</c> and <c>PREFIX/instances/NAME</c>.</summary>
internal static class EtcdKeys
{
    public static string Backends(string prefix) => $"{Root(prefix)}/backends/";

    public static string Instances(string prefix) => $"{Root(prefix)}/instances/";

    /// <summary>The key a backend written by the fleet's control calls gets: its address under the backends prefix.</summary>
    public static string Backend(string prefix, string address) => Backends(prefix) + address;

    private static string Root(string prefix) => prefix.TrimEnd('/');
}
