using System.Net;

namespace LoadBalancer.Reactive.Preface;

/// <summary>What a PROXY protocol header said about the connection it came on.</summary>
/// <param name="Version">1 (text) or 2 (binary).</param>
/// <param name="Source">The original client; null for a LOCAL (v2) or UNKNOWN (v1) header, which means "use the connection's own address".</param>
/// <param name="Destination">The address the original client connected to; null when <paramref name="Source"/> is.</param>
/// <param name="Length">How many bytes the header took, every one of which was consumed.</param>
internal sealed record ProxyHeader(int Version, IPEndPoint? Source, IPEndPoint? Destination, int Length);
