using System.Collections.Immutable;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// Bytes counted while they flow: a <see cref="BytesRelayed"/> sample moves each live connection's counted bytes up
/// to its relay's running totals, and the difference is counted for its backend (<see cref="BytesCounted"/>). At the
/// connection's end only what its samples had not counted is left (<see cref="Remainder"/>), so no byte is counted
/// twice, whichever comes first of a sample and the end it raced with.
/// </summary>
internal static class LiveBytes
{
    /// <summary>Counts what each sampled relay moved since its last sample, per backend; decides nothing.</summary>
    public static Step Count(BalancerState state, BytesRelayed relayed)
    {
        ImmutableDictionary<long, LiveConnection>.Builder? connections = null;
        Dictionary<int, (long FromClient, long FromBackend)>? perBackend = null;
        foreach (var relay in relayed.Relays)
        {
            // A connection that ended (or failed) since the sample was taken: its end counted everything.
            if (!state.Connections.TryGetValue(relay.ConnectionId, out var live))
            {
                continue;
            }

            var fromClient = Math.Max(0, relay.BytesFromClient - live.BytesFromClient);
            var fromBackend = Math.Max(0, relay.BytesFromBackend - live.BytesFromBackend);
            var index = state.IndexOf(live.Backend);
            if ((fromClient | fromBackend) == 0 || index < 0)
            {
                continue;
            }

            connections ??= state.Connections.ToBuilder();
            connections[relay.ConnectionId] = live with
            {
                BytesFromClient = live.BytesFromClient + fromClient,
                BytesFromBackend = live.BytesFromBackend + fromBackend,
            };
            perBackend ??= [];
            var (client, backend) = perBackend.GetValueOrDefault(index);
            perBackend[index] = (client + fromClient, backend + fromBackend);
        }

        if (connections is null || perBackend is null)
        {
            return new Step(state, null);
        }

        var changes = perBackend.OrderBy(pair => pair.Key)
            .Select(pair => (BackendChange)new BytesCounted(pair.Key, state.Backends[pair.Key], pair.Value.FromClient, pair.Value.FromBackend))
            .ToImmutableArray();
        return new Step(state with { Connections = connections.ToImmutable() }, null, changes);
    }

    /// <summary>
    /// What an ended connection relayed beyond what its samples counted: its totals less <paramref name="counted"/>'s
    /// counts (never below zero: a relay that failed unexpectedly reports no totals).
    /// </summary>
    /// <param name="ended">The end, with the relay's totals.</param>
    /// <param name="counted">The connection as the fold held it until its end; null when unknown (nothing counted).</param>
    public static (long FromClient, long FromBackend) Remainder(ConnectionEnded ended, LiveConnection? counted) => (
        Math.Max(0, ended.BytesFromClient - (counted?.BytesFromClient ?? 0)),
        Math.Max(0, ended.BytesFromBackend - (counted?.BytesFromBackend ?? 0)));
}

/// <summary>Bytes a sample of live relays counted for one backend (never a public event: the counters take it).</summary>
/// <param name="BackendIndex">The backend's position among the members.</param>
/// <param name="Backend">The backend.</param>
/// <param name="BytesFromClient">Bytes relayed to the backend since the previous sample, over its live connections.</param>
/// <param name="BytesFromBackend">Bytes relayed from the backend since the previous sample.</param>
internal sealed record BytesCounted(int BackendIndex, BackendSnapshot Backend, long BytesFromClient, long BytesFromBackend)
    : BackendChange(BackendIndex, Backend);
