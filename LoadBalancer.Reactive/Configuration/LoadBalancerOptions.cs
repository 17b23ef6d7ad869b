using LoadBalancer.Reactive.Balancing.Strategies;

namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// Everything a <see cref="TcpLoadBalancer"/> needs to run: where it listens, the backends it
/// spreads connections over, how it picks one, and how long it waits.
/// </summary>
/// <remarks>
/// Options are validated as a whole when a balancer is created; every problem is reported at once
/// in a <see cref="LoadBalancerOptionsException"/>.
/// </remarks>
public sealed record LoadBalancerOptions
{
    /// <summary>
    /// The balancer's name: every metric it publishes carries it as <c>loadbalancer.name</c>, so two balancers in
    /// one process are told apart. Letters, digits, <c>.</c>, <c>_</c> and <c>-</c>. Default: <c>default</c>.
    /// </summary>
    public string Name { get; init; } = "default";

    /// <summary>
    /// The endpoints to accept client connections on, written <c>HOST:PORT</c> (<c>127.0.0.1:8000</c>,
    /// <c>[::1]:8000</c>, <c>localhost:8000</c>, <c>*:8000</c> for every IPv4 address). Port 0 picks a
    /// free port; read it back from <see cref="TcpLoadBalancer.ListenEndPoints"/>. At least one is required.
    /// </summary>
    public IReadOnlyList<string> Listen { get; init; } = [];

    /// <summary>The backends to relay connections to. At least one is required.</summary>
    public IReadOnlyList<BackendOptions> Backends { get; init; } = [];

    /// <summary>
    /// The name of the strategy that picks a backend for each connection, one of
    /// <see cref="LoadBalancingStrategies.All"/>. Default: <see cref="LoadBalancingStrategies.LeastConnections"/>.
    /// </summary>
    public string Strategy { get; init; } = LoadBalancingStrategies.LeastConnections;

    /// <summary>
    /// A strategy of your own. When set, it is used instead of <see cref="Strategy"/>. An instance serves
    /// one balancer: the balancer calls it one decision at a time, and it may keep private state.
    /// </summary>
    public ILoadBalancingStrategy? CustomStrategy { get; init; }

    /// <summary>
    /// Seeds the random source of the strategies that use one (<c>random</c>, <c>power-of-two-choices</c>,
    /// your own), so that runs can be reproduced. Default: null, a different seed every run.
    /// </summary>
    public int? RandomSeed { get; init; }

    /// <summary>How long to wait for a backend to accept a connection. Default: 5 seconds.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Backends tried for one connection: when one refuses or times out, the next attempt goes to a
    /// different available backend, and the client sees a failure only when every attempt failed. Default: 3.
    /// </summary>
    public int MaxConnectAttempts { get; init; } = 3;

    /// <summary>
    /// A relayed connection with no bytes either way for this long is closed (and completes as
    /// <see cref="Events.CompletionReason.IdleTimeout"/>). <see cref="TimeSpan.Zero"/> means never. Default: 1 hour.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Active health checks for every backend that does not set its own. Default: on, every 2 s, rise 2, fall 3.</summary>
    public HealthCheckOptions HealthCheck { get; init; } = new();

    /// <summary>Passive outlier detection. Default: on, 5 failures in a row eject for 30 s, at most half the backends.</summary>
    public OutlierDetectionOptions OutlierDetection { get; init; } = new();

    /// <summary>
    /// The most client connections relayed (or connecting) at once; 0 (the default) for no limit. At the
    /// limit a new connection waits in the queue (see <see cref="MaxQueueLength"/>) or is refused.
    /// </summary>
    public int MaxConnections { get; init; }

    /// <summary>
    /// How many connections may wait for a slot (at <see cref="MaxConnections"/>, or when every backend is at
    /// its own <see cref="BackendOptions.MaxConnections"/>), served first come first served. 0 (the default)
    /// refuses them at once.
    /// </summary>
    public int MaxQueueLength { get; init; }

    /// <summary>
    /// Slow start: a backend that joins, or comes back to health or from ejection, ramps from a tenth of its
    /// capacity to all of it over this window, in ten steps on the scheduler (HAProxy's <c>slowstart</c>).
    /// Weighted strategies scale its weight; least connections counts it as that share of a backend; the
    /// hashing strategies are not affected. <see cref="TimeSpan.Zero"/> (the default) turns it off.
    /// </summary>
    public TimeSpan SlowStart { get; init; }

    /// <summary>
    /// When backends are written <c>name:port</c>, re-resolve the names this often: each address becomes a
    /// backend, new ones join, vanished ones are drained (see <see cref="Discovery.DnsDiscovery"/>).
    /// <see cref="TimeSpan.Zero"/> (the default) resolves a name at each connect instead.
    /// </summary>
    public TimeSpan DnsRefreshInterval { get; init; }

    /// <summary>
    /// Close a client that sends nothing for this long after connecting, before a backend is picked for it,
    /// so a silent client never holds a backend connection. Only for protocols where the client speaks first
    /// (HTTP, TLS, Postgres, Redis; not SMTP or MySQL). A client whose bytes reached the balancer's socket in time
    /// is never cut because a busy balancer was late to read them. <see cref="TimeSpan.Zero"/> (the default) turns it off.
    /// </summary>
    public TimeSpan FirstByteTimeout { get; init; }

    /// <summary>How long a connection may wait in the queue before it is refused. Default: 5 seconds.</summary>
    public TimeSpan QueueTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// What happens when no backend is available (all unhealthy or ejected). False (the default): reject
    /// the connection at once. True: panic mode, spread it over every weighted backend as if all were
    /// healthy, on the theory that a wrong health verdict is likelier than every backend being down.
    /// </summary>
    public bool PanicMode { get; init; }

    /// <summary>
    /// Read a PROXY protocol header (v1 or v2) from clients connecting from these trusted networks (another
    /// balancer in front of this one), and use the client address it names for access rules, per-client
    /// limits, source hashing and events. Empty (the default): no header is expected from anyone.
    /// </summary>
    public AcceptProxyOptions AcceptProxy { get; init; } = new();

    /// <summary>
    /// TLS termination: present a certificate to clients (TLS 1.2 and 1.3 only) and relay the decrypted
    /// bytes. With <see cref="Sni"/> routes, the server name of the handshake picks the pool. Default: off.
    /// </summary>
    public TlsOptions Tls { get; init; } = new();

    /// <summary>TLS passthrough routing: pools of backends chosen by the ClientHello's server name. Default: no routing.</summary>
    public SniRoutingOptions Sni { get; init; } = new();

    /// <summary>Which clients may connect, and how much each may use. Default: everyone, without limits.</summary>
    public ClientOptions Clients { get; init; } = new();

    /// <summary>
    /// How many events each <see cref="TcpLoadBalancer.Events"/> subscriber may fall behind before
    /// further events are dropped for it (and counted in an <see cref="Events.EventsDropped"/>).
    /// A slow subscriber never slows the balancer. Default: 10,000.
    /// </summary>
    public int EventBufferCapacity { get; init; } = 10_000;

    /// <summary>
    /// Log one Information line per finished connection (event id 40 completed, 41 failed, 42 rejected) with the
    /// client, the listener, the backend, the connect time, the duration, the bytes each way and how it ended, as
    /// HAProxy's <c>option tcplog</c> does. Default: false (connections are logged at Debug only).
    /// </summary>
    public bool AccessLog { get; init; }
}

/// <summary>One backend server that connections are relayed to.</summary>
public sealed record BackendOptions
{
    /// <summary>Creates a backend at <paramref name="address"/> (<c>HOST:PORT</c>).</summary>
    /// <param name="address">The backend's address, written <c>HOST:PORT</c>.</param>
    /// <param name="weight">The backend's relative weight; see <see cref="Weight"/>.</param>
    [System.Diagnostics.CodeAnalysis.SetsRequiredMembers]
    public BackendOptions(string address, int weight = 1)
    {
        Address = address;
        Weight = weight;
    }

    /// <summary>Creates a backend whose properties are set by an initializer or a configuration binder.</summary>
    public BackendOptions()
    {
    }

    /// <summary>
    /// Where the backend listens, written <c>HOST:PORT</c> (<c>10.0.0.5:8080</c>, <c>[::1]:8080</c>,
    /// <c>db.internal:5432</c>). Host names are resolved when connecting. It also names the backend in events.
    /// </summary>
    public required string Address { get; init; }

    /// <summary>
    /// The backend's share of connections relative to the others, from 0 to
    /// 10,000. A weight of 0 keeps the backend
    /// configured but sends it no new connections. Default: 1.
    /// </summary>
    public int Weight { get; init; } = 1;

    /// <summary>The most connections this backend takes at once; 0 (the default) for no limit.</summary>
    public int MaxConnections { get; init; }

    /// <summary>
    /// Whether the backend serves (<see cref="BackendState.Active"/>, the default), takes no new connections while its
    /// open ones finish (<see cref="BackendState.Draining"/>), or is in maintenance (<see cref="BackendState.Disabled"/>:
    /// no new connections and no health probes). Discovery sources and reloads change it live.
    /// </summary>
    public BackendState State { get; init; }

    /// <summary>Active health checks for this backend; null (the default) uses <see cref="LoadBalancerOptions.HealthCheck"/>.</summary>
    public HealthCheckOptions? HealthCheck { get; init; }

    /// <summary>
    /// Send this backend a PROXY protocol header before the client's bytes, so it sees the real client
    /// address (HAProxy's <c>send-proxy</c> and <c>send-proxy-v2</c>). Default: none.
    /// </summary>
    public ProxyProtocolVersion SendProxy { get; init; }

    /// <summary>
    /// The pool this backend is in, for routing TLS connections by server name (see
    /// <see cref="LoadBalancerOptions.Sni"/>); null (the default) puts it in the default pool.
    /// </summary>
    public string? Pool { get; init; }

    /// <summary>Speak TLS to this backend (after any PROXY header); null (the default) for plain TCP.</summary>
    public BackendTlsOptions? Tls { get; init; }
}

/// <summary>What an operator wants of a backend: HAProxy's server states ready, drain and maint.</summary>
public enum BackendState
{
    /// <summary>The backend takes new connections (when healthy).</summary>
    Active,

    /// <summary>The backend takes no new connections; its open ones finish.</summary>
    Draining,

    /// <summary>The backend is in maintenance: no new connections and no health probes; open ones carry on.</summary>
    Disabled,
}
