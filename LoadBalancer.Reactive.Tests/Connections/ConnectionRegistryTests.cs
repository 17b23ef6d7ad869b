using System.Net;
using System.Net.Sockets;
using LoadBalancer.Reactive.Connections;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Connections;

/// <summary>
/// The registry of open client connections: when it takes them, when it is idle, and cutting them. The bookkeeping
/// tests use sockets that are never connected; aborting uses real ones accepted on 127.0.0.1.
/// </summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public sealed class ConnectionRegistryTests : IDisposable
{
    private readonly ConnectionRegistry _registry = new();
    private readonly List<Socket> _sockets = [];

    [Fact]
    public void TryAdd_AfterClose_IsRefused()
    {
        _registry.Close();

        Assert.False(_registry.TryAdd(Unconnected(1)));
        Assert.Equal(0, _registry.Count);
        Assert.Null(_registry.Find(1));
    }

    [Fact]
    public void TryAdd_RepeatedId_KeepsTheFirst()
    {
        var first = Unconnected(1);

        Assert.True(_registry.TryAdd(first));
        Assert.False(_registry.TryAdd(Unconnected(1)));

        Assert.Same(first, _registry.Find(1));
        Assert.Equal(1, _registry.Count);
    }

    [Fact]
    public void Idle_ClosedWhileEmpty_CompletesAtOnce()
    {
        Assert.False(_registry.Idle.IsCompleted);

        _registry.Close();

        Assert.True(_registry.Idle.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Idle_ClosedWithConnectionsOpen_CompletesWhenTheLastOneLeaves()
    {
        _registry.TryAdd(Unconnected(1));
        _registry.TryAdd(Unconnected(2));

        _registry.Close();
        Assert.False(_registry.Idle.IsCompleted);
        _registry.Remove(1);
        Assert.False(_registry.Idle.IsCompleted);
        _registry.Remove(2);

        await _registry.Idle.WaitAsync(Loopback.Timeout);
        Assert.Equal(0, _registry.Count);
    }

    [Fact]
    public void Idle_LastConnectionLeavesBeforeClose_CompletesOnlyAtClose()
    {
        _registry.TryAdd(Unconnected(1));
        _registry.Remove(1);
        Assert.False(_registry.Idle.IsCompleted);

        _registry.Close();

        Assert.True(_registry.Idle.IsCompletedSuccessfully);
    }

    [Fact]
    public void Remove_UnknownId_IsHarmless()
    {
        var open = Unconnected(1);
        _registry.TryAdd(open);

        _registry.Remove(99);
        _registry.Close();
        _registry.Remove(99);
        _registry.Abort(99);

        Assert.Same(open, _registry.Find(1));
        Assert.False(open.IsAborted);
        Assert.False(_registry.Idle.IsCompleted);
    }

    [Fact]
    public async Task AbortAll_AbortsEveryRegisteredConnectionAndNoOther()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var connections = new List<ClientConnection>();
        for (var id = 1; id <= 3; id++)
        {
            _sockets.Add(await Loopback.ConnectAsync(listener.LocalEndPoint!));
            var accepted = await listener.AcceptAsync().WaitAsync(Loopback.Timeout);
            _sockets.Add(accepted);
            connections.Add(new ClientConnection(id, accepted, DateTimeOffset.UnixEpoch));
        }

        _registry.TryAdd(connections[0]);
        _registry.TryAdd(connections[1]);
        var tokens = connections.Select(connection => connection.Aborted).ToList();

        _registry.AbortAll();

        Assert.Equal([true, true, false], connections.Select(connection => connection.IsAborted));
        Assert.Equal([true, true, false], tokens.Select(token => token.IsCancellationRequested));
    }

    [Fact]
    public void Abort_OneId_AbortsOnlyThatConnection()
    {
        var first = Unconnected(1);
        var second = Unconnected(2);
        _registry.TryAdd(first);
        _registry.TryAdd(second);

        _registry.Abort(2);

        Assert.False(first.IsAborted);
        Assert.True(second.IsAborted);
    }

    public void Dispose()
    {
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }
    }

    private ClientConnection Unconnected(long id)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _sockets.Add(socket);
        return new ClientConnection(id, socket, DateTimeOffset.UnixEpoch);
    }
}
