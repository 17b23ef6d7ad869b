using System.Collections.Concurrent;

namespace LoadBalancer.Reactive.Connections;

/// <summary>
/// The one registry of the balancer's open client connections (accepted and not yet closed), for what needs
/// their sockets: a relay attempt, closing a refused client, cutting connections at a deadline. What the
/// connections count for (per backend, per client, in the queue) is the fold's, not kept here.
/// </summary>
internal sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<long, ClientConnection> _open = new();
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private bool _closed;

    /// <summary>Connections open now.</summary>
    public int Count => _open.Count;

    /// <summary>Completes once the registry is closed and the last connection has left it.</summary>
    public Task Idle => _idle.Task;

    /// <summary>Registers a connection, unless the registry is closed (the balancer is stopping).</summary>
    public bool TryAdd(ClientConnection connection)
    {
        // Under the lock that closes the registry, so a stop that cuts every registered connection cannot
        // miss one accepted at that moment.
        lock (_gate)
        {
            return !_closed && _open.TryAdd(connection.Id, connection);
        }
    }

    public ClientConnection? Find(long id) => _open.GetValueOrDefault(id);

    /// <summary>The open connections, walked without a lock or a copy: one that opens or closes meanwhile may be missed or seen.</summary>
    public IEnumerable<ClientConnection> Open
    {
        get
        {
            foreach (var pair in _open)
            {
                yield return pair.Value;
            }
        }
    }

    /// <summary>Takes a connection out once it is closed; the last one out of a closed registry completes <see cref="Idle"/>.</summary>
    public void Remove(long id)
    {
        if (_open.TryRemove(id, out _) && Volatile.Read(ref _closed) && _open.IsEmpty)
        {
            _idle.TrySetResult();
        }
    }

    /// <summary>Takes no more connections; <see cref="Idle"/> completes when the open ones have left.</summary>
    public void Close()
    {
        lock (_gate)
        {
            Volatile.Write(ref _closed, true);
        }

        if (_open.IsEmpty)
        {
            _idle.TrySetResult();
        }
    }

    /// <summary>Cuts one connection (with a reset), whether it is reading its preface, connecting or relaying.</summary>
    public void Abort(long id) => Find(id)?.Abort();

    /// <summary>Cuts every open connection.</summary>
    public void AbortAll()
    {
        foreach (var connection in _open.Values)
        {
            connection.Abort();
        }
    }
}
