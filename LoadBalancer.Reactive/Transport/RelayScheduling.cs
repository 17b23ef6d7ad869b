using System.IO.Pipelines;

namespace LoadBalancer.Reactive.Transport;

/// <summary>
/// Where the relay's continuations run. By default the runtime hands every socket completion from its
/// event thread to the thread pool, and the relay's pipes hand theirs on to the thread pool again: a
/// relayed request crosses threads four times. When the process runs socket completions inline
/// (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>, one event thread per core), the relay's pipes
/// run inline too, and a request is read, relayed and sent on the event thread that saw it arrive,
/// as HAProxy and nginx do on theirs.
/// </summary>
/// <remarks>
/// Inline is safe here because nothing on the relay path blocks: sends wait asynchronously, the fold is
/// a short lock, and event subscribers run on their own queues (see <see cref="Events.EventHub"/>).
/// Inline pipes without inline socket completions measured slower than the default, so the two go together.
/// </remarks>
internal static class RelayScheduling
{
    /// <summary>The runtime's switch; it is read once, before the first socket is used.</summary>
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Whether this process runs socket completions on the runtime's event threads.</summary>
    public static bool InlineSocketCompletions { get; } = Environment.GetEnvironmentVariable(InlineCompletionsVariable) == "1";

    /// <summary>The scheduler for the relay's pipes: inline when socket completions are.</summary>
    public static PipeScheduler PipeScheduler { get; } = InlineSocketCompletions ? PipeScheduler.Inline : PipeScheduler.ThreadPool;
}
