using Etcdserverpb;
using Google.Protobuf;
using Grpc.Net.Client;

namespace LoadBalancer.Reactive.Discovery;

/// <summary>
/// gRPC channels to the members of one etcd cluster, used one at a time: after a failure the next call goes to the
/// next endpoint. The generated clients of <c>dotnet-etcd</c> are used directly, so that which revision a watch
/// resumes from, and when to retry, stays in this library's hands.
/// </summary>
internal sealed class EtcdConnection : IDisposable
{
    /// <summary>How long a single request may take before it counts as a failure of the store.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private readonly GrpcChannel[] _channels;
    private readonly string[] _endpoints;
    private int _current;

    /// <summary>Opens (lazily) a channel to each endpoint.</summary>
    /// <exception cref="ArgumentException">No endpoint, or one that is not an absolute http(s) URL; the message names it.</exception>
    public EtcdConnection(IReadOnlyList<string> endpoints)
    {
        Validate(endpoints);
        _channels = [.. endpoints.Select(endpoint => Open(new Uri(endpoint)))];
        _endpoints = [.. endpoints];
    }

    /// <summary>The endpoint in use, for messages.</summary>
    public string Endpoint => _endpoints[_current];

    public KV.KVClient KV => new(_channels[_current]);

    public Watch.WatchClient Watch => new(_channels[_current]);

    public Lease.LeaseClient Lease => new(_channels[_current]);

    /// <summary>Moves on to the next endpoint, after a failure of the one in use.</summary>
    public void Next() => _current = (_current + 1) % _channels.Length;

    /// <summary>A token that cancels a request after <see cref="RequestTimeout"/> or when <paramref name="cancellationToken"/> is.</summary>
    public static CancellationTokenSource Deadline(CancellationToken cancellationToken)
    {
        // A request timeout is I/O against a remote store, not balancer timing: it runs on the real clock.
        var source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        source.CancelAfter(RequestTimeout);
        return source;
    }

    /// <summary>The key as etcd stores it.</summary>
    public static ByteString Key(string key) => ByteString.CopyFromUtf8(key);

    /// <summary>The end of the range of every key that starts with <paramref name="prefix"/> (its last byte plus one).</summary>
    public static ByteString RangeEnd(string prefix)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(prefix);
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] < 0xFF)
            {
                bytes[i]++;
                return ByteString.CopyFrom(bytes, 0, i + 1);
            }
        }

        return ByteString.CopyFrom(0);
    }

    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
    }

    /// <summary>Checks the endpoints without connecting.</summary>
    /// <exception cref="ArgumentException">No endpoint, or one that is not an absolute http(s) URL; the message names it.</exception>
    public static void Validate(IReadOnlyList<string> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.Count == 0)
        {
            throw new ArgumentException("At least one etcd endpoint is needed.", nameof(endpoints));
        }

        foreach (var endpoint in endpoints)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new ArgumentException($"etcd endpoint '{endpoint}' must be an absolute http:// or https:// URL.", nameof(endpoints));
            }
        }
    }

    private static GrpcChannel Open(Uri uri)
    {
        return GrpcChannel.ForAddress(uri, new GrpcChannelOptions
        {
            // Pings find a store that vanished without closing the connection (a host gone, a cable pulled); no more
            // often than etcd's --grpc-keepalive-min-time (5 s), which would answer with "too many pings".
            HttpHandler = new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromSeconds(3),
                KeepAlivePingDelay = TimeSpan.FromSeconds(10),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
                EnableMultipleHttp2Connections = true,
            },
            DisposeHttpClient = true,
        });
    }
}
