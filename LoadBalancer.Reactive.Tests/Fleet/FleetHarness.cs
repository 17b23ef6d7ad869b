using System.Net;
using System.Net.Sockets;
using System.Text;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Fleet;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Fleet;

/// <summary>Balancers on loopback, each joined to the fleet of one etcd under one prefix, with their events recorded.</summary>
public sealed class FleetHarness : IAsyncDisposable
{
    public const string Prefix = "/fleet";

    private FleetHarness(IReadOnlyList<TcpLoadBalancer> balancers, IReadOnlyList<EtcdFleet> members, IReadOnlyList<EventRecorder> events)
    {
        Balancers = balancers;
        Members = members;
        Events = events;
    }

    public IReadOnlyList<TcpLoadBalancer> Balancers { get; }

    public IReadOnlyList<EtcdFleet> Members { get; }

    public IReadOnlyList<EventRecorder> Events { get; }

    /// <summary>
    /// Starts <paramref name="count"/> balancers configured with <paramref name="placeholder"/> only (etcd's set
    /// replaces it) and joins them to the fleet, named lb-0, lb-1...
    /// </summary>
    public static async Task<FleetHarness> StartAsync(
        EtcdProcess etcd, int count, string placeholder, string strategy = "round-robin", TimeSpan? leaseTtl = null)
    {
        var balancers = new List<TcpLoadBalancer>();
        var members = new List<EtcdFleet>();
        var events = new List<EventRecorder>();
        for (var i = 0; i < count; i++)
        {
            var balancer = await Infrastructure.Balancers.StartAsync(new LoadBalancerOptions
            {
                Backends = [new BackendOptions(placeholder)],
                HealthCheck = Infrastructure.Balancers.NoHealthChecks,
                Strategy = strategy,
            });
            balancers.Add(balancer);
            events.Add(new EventRecorder(balancer.Events));
            members.Add(await EtcdFleet.JoinAsync(balancer, Options(etcd, $"lb-{i}", leaseTtl)).WaitAsync(Loopback.Timeout));
        }

        return new FleetHarness(balancers, members, events);
    }

    public static EtcdFleetOptions Options(EtcdProcess etcd, string name, TimeSpan? leaseTtl = null) => new()
    {
        Endpoints = [etcd.Url],
        Prefix = Prefix,
        Name = name,
        LeaseTtl = leaseTtl ?? TimeSpan.FromSeconds(10),
    };

    /// <summary>Stores a backend for the fleet.</summary>
    public static Task PutBackendAsync(EtcdProcess etcd, string address, int weight = 1, string state = "active") =>
        etcd.PutAsync($"{Prefix}/backends/{address}", $$"""{"address":"{{address}}","weight":{{weight}},"state":"{{state}}"}""");

    /// <summary>Waits until every balancer's members satisfy <paramref name="condition"/>.</summary>
    public Task WaitForMembersAsync(Func<IReadOnlyList<BackendSnapshot>, bool> condition, string what) =>
        Loopback.WaitUntilAsync(() => Balancers.All(balancer => condition(balancer.Snapshot.Backends)), what);

    /// <summary>The backends that serve (not draining, disabled or leaving), by address, on one balancer.</summary>
    public static string Serving(IReadOnlyList<BackendSnapshot> backends) =>
        string.Join(",", backends.Where(b => !b.Draining && !b.Disabled && !b.Removing).Select(b => b.Address).Order(StringComparer.Ordinal));

    /// <summary>A backend that sends its address and a newline, then echoes until the client closes.</summary>
    public static LoopbackServer NamedEcho()
    {
        LoopbackServer? self = null;
        self = new LoopbackServer(async socket =>
        {
            await Loopback.SendAllAsync(socket, Encoding.ASCII.GetBytes(self!.Address + "\n"));
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
            {
                await Loopback.SendAllAsync(socket, buffer.AsMemory(0, read));
            }

            socket.Shutdown(SocketShutdown.Send);
        });
        return self;
    }

    /// <summary>Reads the name line a <see cref="NamedEcho"/> backend sends first.</summary>
    public static async Task<string> ReadNameAsync(Socket socket)
    {
        var name = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            var read = await socket.ReceiveAsync(one, SocketFlags.None).WaitAsync(Loopback.Timeout);
            if (read == 0 || one[0] == '\n')
            {
                return name.ToString();
            }

            name.Append((char)one[0]);
        }
    }

    /// <summary>Sends bytes and checks they come back whole.</summary>
    public static async Task<bool> EchoesAsync(Socket socket, int seed)
    {
        var data = Loopback.RandomBytes(512, seed);
        await Loopback.SendAllAsync(socket, data);
        var back = new byte[data.Length];
        var got = 0;
        while (got < back.Length)
        {
            var read = await socket.ReceiveAsync(back.AsMemory(got), SocketFlags.None).AsTask().WaitAsync(Loopback.Timeout);
            if (read == 0)
            {
                return false;
            }

            got += read;
        }

        return back.AsSpan().SequenceEqual(data);
    }

    public static IPEndPoint Listen(TcpLoadBalancer balancer) => balancer.ListenEndPoints[0];

    public async ValueTask DisposeAsync()
    {
        foreach (var member in Members)
        {
            await member.DisposeAsync();
        }

        foreach (var balancer in Balancers)
        {
            await balancer.DisposeAsync();
        }

        foreach (var recorder in Events)
        {
            recorder.Dispose();
        }
    }
}
