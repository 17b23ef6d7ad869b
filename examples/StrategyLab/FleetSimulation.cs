using System.Net;
using System.Reactive.Subjects;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Testing;

namespace StrategyLab;

/// <summary>What happens to one backend's membership, on every instance of the fleet at once.</summary>
internal enum ChangeKind
{
    /// <summary>The backend is removed (<see cref="RemoveBackend"/>).</summary>
    Leave,

    /// <summary>The backend that left is added back (<see cref="AddBackend"/>).</summary>
    Join,

    /// <summary>The backend is drained (<see cref="DrainBackend"/>): a member still, but it takes no new connections.</summary>
    Drain,

    /// <summary>The drained backend is put back in service (<see cref="EnableBackend"/>).</summary>
    Enable,
}

/// <summary>One membership change applied to every instance.</summary>
internal sealed record MembershipChange(ChangeKind Kind, string Backend)
{
    /// <summary>Whether the backend stops taking connections (a leave or a drain) rather than starts.</summary>
    public bool Removes => Kind is ChangeKind.Leave or ChangeKind.Drain;
}

/// <summary>What one membership change did to the flows of a fleet.</summary>
/// <param name="Change">The change.</param>
/// <param name="InServiceBefore">Backends taking connections before it.</param>
/// <param name="InServiceAfter">Backends taking connections after it.</param>
/// <param name="Moved">The share of flows (a client through an instance) whose backend changed.</param>
/// <param name="OwnShare">The changed backend's share of the flows: before a leave or drain, after a join or enable.</param>
/// <param name="MostReceived">The backend that received the largest share of the moved flows, and that share.</param>
/// <param name="LeastReceived">The smallest share of the moved flows any backend in service after the change received.</param>
/// <param name="AgreementAfter">The share of clients for which every instance picks the same backend, after the change.</param>
internal sealed record ChangeResult(
    MembershipChange Change,
    int InServiceBefore,
    int InServiceAfter,
    double Moved,
    double OwnShare,
    (string Backend, double Share) MostReceived,
    double LeastReceived,
    double AgreementAfter)
{
    /// <summary>The ideal share of flows to move: 1/M of the M backends in service on the side where the changed one serves.</summary>
    public double Ideal => 1.0 / (Change.Removes ? InServiceBefore : InServiceAfter);
}

/// <summary>What one strategy did across the fleet.</summary>
internal sealed record FleetResult(string Strategy, double InitialAgreement, IReadOnlyList<ChangeResult> Changes, TimeSpan Wall)
{
    /// <summary>The lowest agreement seen at any membership.</summary>
    public double MinAgreement => Changes.Select(c => c.AgreementAfter).Append(InitialAgreement).Min();
}

/// <summary>
/// A fleet of balancers behind ECMP: N instances, each running the real fold (<see cref="BalancingFold"/>) with its
/// own state and its own random seed, as real instances do, all given the same membership changes. Between two
/// changes every client opens one flow through every instance, in a shuffled order (ECMP sends a client's flows to
/// any instance); the flows stay open until the next change, so the counting strategies see load. The lab then
/// compares, per client, the backend each instance picked (agreement), and per instance, the backend a client got
/// before and after each change (the flows that moved).
/// </summary>
internal sealed class FleetSimulation
{
    private readonly LabOptions _options;
    private readonly BackendOptions[] _backends;
    private readonly EndPoint[] _clients;

    public FleetSimulation(LabOptions options)
    {
        _options = options;
        _backends = [.. Enumerable.Range(1, options.Backends).Select(i => new BackendOptions($"10.0.{i / 250}.{(i % 250) + 1}:80"))];
        _clients = [.. Enumerable.Range(0, options.Clients).Select(i => (EndPoint)new IPEndPoint(new IPAddress([100, (byte)(i >> 16), (byte)(i >> 8), (byte)i]), 40000))];
        Changes = [.. Enumerable.Range(0, options.Churn).Select(Change)];
    }

    /// <summary>The membership changes, the same for every strategy: a leave and a join back, a drain and an enable, in turn.</summary>
    public IReadOnlyList<MembershipChange> Changes { get; }

    /// <summary>The name to show for a backend's address: b1, b2...</summary>
    public string Name(string address) => $"b{Array.FindIndex(_backends, b => b.Address == address) + 1}";

    public FleetResult Run(string strategy)
    {
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var instances = Enumerable.Range(0, _options.Fleet).Select(i => new Instance(_backends, strategy, _options.Seed + i)).ToArray();
        try
        {
            var order = new Random(_options.Seed);
            var inService = new HashSet<string>(_backends.Select(b => b.Address));
            var before = Phase(instances, order);
            var initialAgreement = Agreement(before);
            var results = new List<ChangeResult>();
            foreach (var change in Changes)
            {
                var countBefore = inService.Count;
                Apply(instances, change, inService);
                var after = Phase(instances, order);
                results.Add(Compare(change, countBefore, inService, before, after));
                before = after;
            }

            return new FleetResult(strategy, initialAgreement, results, wall.Elapsed);
        }
        finally
        {
            Array.ForEach(instances, instance => instance.Dispose());
        }
    }

    private MembershipChange Change(int index)
    {
        // Backends take turns: b1 leaves and joins back, b2 is drained and enabled, b3 leaves and joins back...
        var backend = _backends[index / 2 % _backends.Length].Address;
        var kind = (index % 4) switch
        {
            0 => ChangeKind.Leave,
            1 => ChangeKind.Join,
            2 => ChangeKind.Drain,
            _ => ChangeKind.Enable,
        };
        return new MembershipChange(kind, backend);
    }

    private void Apply(Instance[] instances, MembershipChange change, HashSet<string> inService)
    {
        BalancerInput input = change.Kind switch
        {
            ChangeKind.Leave => new RemoveBackend(change.Backend),
            ChangeKind.Join => new AddBackend(_backends.Single(b => b.Address == change.Backend)),
            ChangeKind.Drain => new DrainBackend(change.Backend),
            _ => new EnableBackend(change.Backend),
        };
        Array.ForEach(instances, instance => instance.Apply(input));
        if (change.Removes)
        {
            inService.Remove(change.Backend);
        }
        else
        {
            inService.Add(change.Backend);
        }
    }

    /// <summary>Every client reaches every instance once, in a shuffled order; returns each instance's pick per client.</summary>
    private string?[][] Phase(Instance[] instances, Random order)
    {
        var flows = new (int Client, int Instance)[_clients.Length * instances.Length];
        for (var i = 0; i < flows.Length; i++)
        {
            flows[i] = (i / instances.Length, i % instances.Length);
        }

        order.Shuffle(flows);
        var picks = instances.Select(_ => new string?[_clients.Length]).ToArray();
        foreach (var (client, instance) in flows)
        {
            picks[instance][client] = instances[instance].Open(_clients[client]);
        }

        // The flows end before the next change, so a leaving backend leaves at once and every phase starts idle.
        Array.ForEach(instances, instance => instance.CloseAll());
        return picks;
    }

    private double Agreement(string?[][] picks)
    {
        var agreeing = 0;
        for (var client = 0; client < _clients.Length; client++)
        {
            var first = picks[0][client];
            if (first is not null && picks.All(instance => instance[client] == first))
            {
                agreeing++;
            }
        }

        return (double)agreeing / _clients.Length;
    }

    private ChangeResult Compare(MembershipChange change, int countBefore, HashSet<string> inService, string?[][] before, string?[][] after)
    {
        var flows = (double)before.Length * _clients.Length;
        var moved = 0;
        var own = 0;
        var received = inService.ToDictionary(address => address, _ => 0);
        for (var instance = 0; instance < before.Length; instance++)
        {
            for (var client = 0; client < _clients.Length; client++)
            {
                var (was, now) = (before[instance][client], after[instance][client]);
                own += (change.Removes ? was : now) == change.Backend ? 1 : 0;
                if (was != now)
                {
                    moved++;
                    if (now is not null)
                    {
                        received[now] = received.GetValueOrDefault(now) + 1;
                    }
                }
            }
        }

        var most = received.OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal).First();
        double Share(int count) => moved == 0 ? 0 : (double)count / moved;
        return new ChangeResult(
            change, countBefore, inService.Count, moved / flows, own / flows,
            (most.Key, Share(most.Value)), Share(received.Values.Min()), Agreement(after));
    }

    /// <summary>One balancer instance: its own fold, fed synchronously, one flow at a time.</summary>
    private sealed class Instance : IDisposable
    {
        private readonly Subject<BalancerInput> _input = new();
        private readonly IDisposable _subscription;
        private readonly List<long> _open = [];
        private Decision? _last;
        private long _nextId;

        public Instance(BackendOptions[] backends, string strategy, int seed) =>
            _subscription = BalancingFold.Run(_input, backends, strategy, seed).Subscribe(step => _last = step.Decision);

        /// <summary>Opens a flow for <paramref name="client"/>; returns the backend it was sent to, or null when rejected.</summary>
        public string? Open(EndPoint client)
        {
            var id = ++_nextId;
            _last = null;
            _input.OnNext(new ConnectionArrived(id, client));
            if (_last is Assignment assignment)
            {
                _open.Add(id);
                return assignment.Backend.Address;
            }

            return null;
        }

        public void CloseAll()
        {
            _open.ForEach(id => _input.OnNext(new ConnectionEnded(id)));
            _open.Clear();
        }

        public void Apply(BalancerInput change) => _input.OnNext(change);

        public void Dispose()
        {
            _subscription.Dispose();
            _input.Dispose();
        }
    }
}
