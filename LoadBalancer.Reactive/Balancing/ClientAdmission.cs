using System.Collections.Immutable;
using System.Net;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;

namespace LoadBalancer.Reactive.Balancing;

/// <summary>
/// The fold's door: before a backend is picked, a client must be allowed by the access rules, under its
/// own connection limit, and under its own connection rate. Per-client counts live in the fold's state
/// like every other count, taken when a connection is admitted and given back when it leaves the fold
/// (released, failed or rejected), so they can never drift.
/// </summary>
internal static class ClientAdmission
{
    // Clients that hold no connection and whose rate window has passed are forgotten in a sweep this often.
    private const int SweepEvery = 1024;

    /// <summary>Admits <paramref name="arrived"/> (counting it against its client) or says why not.</summary>
    public static (BalancerState State, RejectionReason? Refusal) Admit(BalancerState state, ConnectionArrived arrived, ClientRules rules)
    {
        var address = arrived.Client is IPEndPoint endPoint ? NetworkParser.Normalize(endPoint.Address) : null;
        if (!rules.Allows(address, arrived.Listener))
        {
            return (state, RejectionReason.Denied);
        }

        if (!rules.Counts || address is null)
        {
            return (state, null);
        }

        var now = arrived.Since;
        var tally = state.Clients.TryGetValue(address, out var known) ? known.Roll(now, rules.RateInterval) : ClientTally.Fresh(now);
        var rate = tally.Rate(now, rules.RateInterval);
        tally = tally with { Current = tally.Current + 1 };

        RejectionReason? refusal =
            rules.MaxConnectionRate > 0 && rate >= rules.MaxConnectionRate ? RejectionReason.ClientRateLimit
            : rules.MaxConnections > 0 && tally.Active >= rules.MaxConnections ? RejectionReason.ClientConnectionLimit
            : null;
        if (refusal is null)
        {
            tally = tally with { Active = tally.Active + 1 };
        }

        var clients = state.Clients.SetItem(address, tally);
        if (state.Decisions % SweepEvery == 0)
        {
            clients = Sweep(clients, now, rules);
        }

        var admitted = state with
        {
            Clients = clients,
            ClientOf = refusal is null ? state.ClientOf.Add(arrived.ConnectionId, address) : state.ClientOf,
        };
        return (admitted, refusal);
    }

    /// <summary>Gives back the client's slot of a connection that left the fold in this step.</summary>
    public static Step Settle(Step step, ClientRules rules)
    {
        // Whatever the rules are now: a connection counted under earlier rules (before a reconfiguration) gives its slot back too.
        if (step.State.ClientOf.IsEmpty || step.Decision is not (Release or GiveUp or Rejection)
            || !step.State.ClientOf.TryGetValue(step.Decision.ConnectionId, out var address))
        {
            return step;
        }

        var state = step.State;
        var tally = state.Clients[address];
        tally = tally with { Active = tally.Active - 1 };
        var clients = tally.Active == 0 && rules.MaxConnectionRate == 0 ? state.Clients.Remove(address) : state.Clients.SetItem(address, tally);
        return step with { State = state with { Clients = clients, ClientOf = state.ClientOf.Remove(step.Decision.ConnectionId) } };
    }

    private static ImmutableDictionary<IPAddress, ClientTally> Sweep(
        ImmutableDictionary<IPAddress, ClientTally> clients, DateTimeOffset now, ClientRules rules)
    {
        var stale = clients.Where(pair => pair.Value.Active == 0 && now - pair.Value.WindowStart >= rules.RateInterval * 2).Select(pair => pair.Key);
        return clients.RemoveRange(stale);
    }
}

/// <summary>The access rules and per-client limits, parsed once from <see cref="ClientOptions"/>.</summary>
internal sealed record ClientRules(
    NetworkRules Networks, ImmutableDictionary<string, NetworkRules> Listeners, int MaxConnections, int MaxConnectionRate, TimeSpan RateInterval)
{
    public static readonly ClientRules None = new(NetworkRules.Everyone, ImmutableDictionary<string, NetworkRules>.Empty, 0, 0, TimeSpan.FromSeconds(1));

    /// <summary>Whether any client is counted (a per-client limit is set).</summary>
    public bool Counts => MaxConnections > 0 || MaxConnectionRate > 0;

    /// <summary>Whether anything is checked at all.</summary>
    public bool Any => Counts || !Networks.IsEveryone || !Listeners.IsEmpty;

    public static ClientRules From(ClientOptions options) => new(
        NetworkRules.From(options.Allow, options.Deny),
        options.Listeners.ToImmutableDictionary(listener => listener.Listen, listener => NetworkRules.From(listener.Allow, listener.Deny)),
        options.MaxConnections,
        options.MaxConnectionRate,
        options.ConnectionRateInterval);

    /// <summary>The balancer's rules and, for a listener that has its own, that listener's too.</summary>
    public bool Allows(IPAddress? address, string? listener) =>
        Networks.Allows(address)
        && (listener is null || !Listeners.TryGetValue(listener, out var own) || own.Allows(address));
}

/// <summary>Networks allowed and denied, parsed once.</summary>
internal sealed record NetworkRules(ImmutableArray<IPNetwork> Allow, ImmutableArray<IPNetwork> Deny)
{
    public static readonly NetworkRules Everyone = new([], []);

    public bool IsEveryone => Allow.IsEmpty && Deny.IsEmpty;

    public static NetworkRules From(IEnumerable<string> allow, IEnumerable<string> deny) =>
        new([.. allow.Select(Parse)], [.. deny.Select(Parse)]);

    /// <summary>
    /// Denied networks win over allowed ones; with no allowed networks, everyone not denied may connect. A
    /// client whose address is unknown is allowed only when no network is named in Allow.
    /// </summary>
    public bool Allows(IPAddress? address)
    {
        if (address is null)
        {
            return Allow.IsEmpty;
        }

        foreach (var network in Deny)
        {
            if (network.Contains(address))
            {
                return false;
            }
        }

        if (Allow.IsEmpty)
        {
            return true;
        }

        foreach (var network in Allow)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    private static IPNetwork Parse(string text) =>
        NetworkParser.TryParse(text, "network", out var network, out var error) ? network : throw new ArgumentException(error, nameof(text));
}

/// <summary>
/// One client address's counts: connections it holds, and its new connections in the current and the
/// previous rate window. The rate is the previous window's count weighted by how much of it still
/// overlaps a window ending now, plus the current one's (HAProxy's sliding frequency counter).
/// </summary>
internal sealed record ClientTally(int Active, DateTimeOffset WindowStart, int Current, int Previous)
{
    public static ClientTally Fresh(DateTimeOffset now) => new(0, now, 0, 0);

    /// <summary>Moves the windows on to the one <paramref name="now"/> falls in.</summary>
    public ClientTally Roll(DateTimeOffset now, TimeSpan interval)
    {
        var elapsed = now - WindowStart;
        return elapsed < interval ? this
            : elapsed < interval * 2 ? this with { WindowStart = WindowStart + interval, Previous = Current, Current = 0 }
            : this with { WindowStart = now, Previous = 0, Current = 0 };
    }

    /// <summary>New connections over the last <paramref name="interval"/>, after <see cref="Roll"/>.</summary>
    public double Rate(DateTimeOffset now, TimeSpan interval)
    {
        var overlap = 1 - ((now - WindowStart) / interval);
        return (Previous * Math.Clamp(overlap, 0, 1)) + Current;
    }
}
