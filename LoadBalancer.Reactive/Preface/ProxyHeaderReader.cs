using System.IO.Pipelines;
using System.Reactive.Concurrency;

namespace LoadBalancer.Reactive.Preface;

/// <summary>Reads a PROXY header from the front of a client's pipe, within a time limit on the balancer's scheduler.</summary>
internal static class ProxyHeaderReader
{
    /// <summary>
    /// Reads and consumes the header, leaving every byte after it in the pipe for the relay; or says why
    /// there is none (invalid, closed early, too slow). Never throws for anything the client sends.
    /// </summary>
    public static Task<(ProxyHeader? Header, string? Error)> ReadAsync(
        PipeReader input, TimeSpan timeout, IScheduler scheduler, CancellationToken aborted) =>
        PrefaceReader.ReadAsync<ProxyHeader>(input, ProxyHeaderParser.Parse, header => header.Length, timeout, scheduler, aborted, "PROXY header");
}
