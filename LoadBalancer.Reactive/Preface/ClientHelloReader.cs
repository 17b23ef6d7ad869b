using System.IO.Pipelines;
using System.Reactive.Concurrency;

namespace LoadBalancer.Reactive.Preface;

/// <summary>Peeks at a client's TLS ClientHello, within a time limit on the balancer's scheduler.</summary>
internal static class ClientHelloReader
{
    /// <summary>
    /// Reads the ClientHello without consuming a byte of it (the backend gets it untouched), or says why
    /// there is none. Never throws for anything the client sends.
    /// </summary>
    public static Task<(ClientHello? Hello, string? Error)> PeekAsync(
        PipeReader input, TimeSpan timeout, IScheduler scheduler, CancellationToken aborted) =>
        PrefaceReader.ReadAsync<ClientHello>(input, ClientHelloParser.Parse, _ => 0, timeout, scheduler, aborted, "TLS ClientHello");
}
