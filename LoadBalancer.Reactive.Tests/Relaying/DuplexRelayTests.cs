using System.Net.Sockets;
using System.Security.Cryptography;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Relaying;

/// <summary>The relay, observed from real clients and backends on loopback through a running balancer.</summary>
[Trait(TestCategories.Name, TestCategories.Loopback)]
public class DuplexRelayTests
{
    private const int NonceLength = 16;
    private const int TrailerLength = 64;

    [Fact]
    public async Task Relay_50ConcurrentConnectionsOf10MBEachWay_AreByteExact()
    {
        const int Size = 10 * 1024 * 1024;
        const int Connections = 50;
        var payload = Loopback.RandomBytes(Size, seed: 1);
        await using var backend = new LoopbackServer(socket => ExchangeAsBackendAsync(socket, payload));
        await using var balancer = await Balancers.StartAsync(backend);
        using var events = new EventRecorder(balancer.Events);

        var clients = Enumerable.Range(0, Connections)
            .Select(_ => Task.Run(() => ExchangeAsClientAsync(balancer, payload)));
        await Task.WhenAll(clients).WaitAsync(TimeSpan.FromMinutes(3));

        var completed = await events.WaitForAsync<ConnectionCompleted>(Connections);
        Assert.All(completed, c =>
        {
            Assert.Equal(NonceLength + Size, c.BytesFromClient);
            Assert.Equal(NonceLength + Size + TrailerLength, c.BytesFromBackend);
            Assert.Equal(CompletionReason.ClientClosed, c.Reason);
        });
        Assert.Equal(0, balancer.Snapshot.ActiveConnections);
    }

    [Fact]
    public async Task Relay_ClientHalfCloses_BackendStillAnswersInFull()
    {
        var request = Loopback.RandomBytes(64 * 1024, seed: 2);
        var answer = Loopback.RandomBytes(1024 * 1024, seed: 3);
        byte[]? requestSeen = null;
        await using var backend = new LoopbackServer(async socket =>
        {
            // Reads to the client's FIN, and only then answers.
            requestSeen = await Loopback.ReadToEndAsync(socket);
            await Loopback.SendAllAsync(socket, answer);
            socket.Shutdown(SocketShutdown.Send);
        });
        await using var balancer = await Balancers.StartAsync(backend);
        using var events = new EventRecorder(balancer.Events);
        using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);

        await Loopback.SendAllAsync(client, request);
        client.Shutdown(SocketShutdown.Send);
        var received = await Loopback.ReadToEndAsync(client);

        Assert.Equal(SHA256.HashData(answer), SHA256.HashData(received));
        Assert.Equal(SHA256.HashData(request), SHA256.HashData(requestSeen!));
        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal(CompletionReason.ClientClosed, completed.Reason);
    }

    [Fact]
    public async Task Relay_BackendHalfCloses_ClientCanStillSendEverything()
    {
        var greeting = Loopback.RandomBytes(1024 * 1024, seed: 4);
        var upload = Loopback.RandomBytes(1024 * 1024, seed: 5);
        var uploadSeen = new TaskCompletionSource<byte[]>();
        await using var backend = new LoopbackServer(async socket =>
        {
            // Says everything it has to say and closes its side first, then keeps listening.
            await Loopback.SendAllAsync(socket, greeting);
            socket.Shutdown(SocketShutdown.Send);
            uploadSeen.SetResult(await Loopback.ReadToEndAsync(socket));
        });
        await using var balancer = await Balancers.StartAsync(backend);
        using var events = new EventRecorder(balancer.Events);
        using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);

        var received = await Loopback.ReadToEndAsync(client);
        await Loopback.SendAllAsync(client, upload);
        client.Shutdown(SocketShutdown.Send);

        Assert.Equal(SHA256.HashData(greeting), SHA256.HashData(received));
        Assert.Equal(SHA256.HashData(upload), SHA256.HashData(await uploadSeen.Task.WaitAsync(Loopback.Timeout)));
        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal(CompletionReason.BackendClosed, completed.Reason);
        Assert.Equal(upload.Length, completed.BytesFromClient);
        Assert.Equal(greeting.Length, completed.BytesFromBackend);
    }

    [Fact]
    public async Task Relay_ClientResets_BackendIsReset()
    {
        var backendSaw = new TaskCompletionSource<SocketError>();
        var firstBytes = new TaskCompletionSource();
        await using var backend = new LoopbackServer(async socket =>
        {
            var buffer = new byte[1024];
            try
            {
                while (true)
                {
                    var read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
                    firstBytes.TrySetResult();
                    if (read == 0)
                    {
                        backendSaw.SetResult(SocketError.Success);
                        return;
                    }
                }
            }
            catch (SocketException exception)
            {
                backendSaw.SetResult(exception.SocketErrorCode);
            }
        });
        await using var balancer = await Balancers.StartAsync(backend);
        using var events = new EventRecorder(balancer.Events);
        var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);

        await Loopback.SendAllAsync(client, "hello"u8.ToArray());
        await firstBytes.Task.WaitAsync(Loopback.Timeout);
        Loopback.Reset(client);

        Assert.Equal(SocketError.ConnectionReset, await backendSaw.Task.WaitAsync(Loopback.Timeout));
        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal(CompletionReason.ClientReset, completed.Reason);
    }

    [Fact]
    public async Task Relay_BackendResets_ClientIsReset()
    {
        await using var backend = new LoopbackServer(async socket =>
        {
            var buffer = new byte[5];
            await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
            Loopback.Reset(socket);
        });
        await using var balancer = await Balancers.StartAsync(backend);
        using var events = new EventRecorder(balancer.Events);
        using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);

        await Loopback.SendAllAsync(client, "hello"u8.ToArray());
        var exception = await Assert.ThrowsAsync<SocketException>(() => Loopback.ReadToEndAsync(client));

        Assert.Equal(SocketError.ConnectionReset, exception.SocketErrorCode);
        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal(CompletionReason.BackendReset, completed.Reason);
    }

    [Fact]
    public async Task Relay_BackendResetsBeforeAnyByte_IsRetriedOnAnother_AndTheClientNeverNotices()
    {
        // A backend whose listener accepts and resets at once: like one that closed with our connection
        // still in its accept queue. Nothing was said either way, so another backend can take over.
        await using var resetting = new LoopbackServer(socket =>
        {
            Loopback.Reset(socket);
            return Task.CompletedTask;
        });
        await using var named = LoopbackServer.Named();
        await using var balancer = await Balancers.StartAsync(new Reactive.Configuration.LoadBalancerOptions
        {
            Backends = [new(resetting.Address), new(named.Address)],
            Strategy = Reactive.Balancing.Strategies.LoadBalancingStrategies.RoundRobin,
            HealthCheck = Balancers.NoHealthChecks,
        });
        using var events = new EventRecorder(balancer.Events);

        Assert.Equal(named.Address, await Loopback.AskAsync(balancer.ListenEndPoints[0]));

        var attempt = Assert.Single(await events.WaitForAsync<ConnectAttemptFailed>());
        Assert.Equal((resetting.Address, SocketError.ConnectionReset), (attempt.Backend, attempt.Error));
        // Both sides close at once (the client half-closes, the backend answers and closes): either FIN
        // may reach the relay first, and both are a clean end.
        Assert.Contains(Assert.Single(await events.WaitForAsync<ConnectionCompleted>()).Reason, new[] { CompletionReason.ClientClosed, CompletionReason.BackendClosed });
        Assert.Equal(1, balancer.Snapshot.Backends[0].FailedConnections);
    }

    [Fact]
    public async Task Relay_ClientSpeaksAfterAnEarlyBackendReset_ItsBytesReachTheNextBackend()
    {
        await using var resetting = new LoopbackServer(socket =>
        {
            Loopback.Reset(socket);
            return Task.CompletedTask;
        });
        await using var echo = LoopbackServer.Echo();
        await using var balancer = await Balancers.StartAsync(new Reactive.Configuration.LoadBalancerOptions
        {
            Backends = [new(resetting.Address), new(echo.Address)],
            Strategy = Reactive.Balancing.Strategies.LoadBalancingStrategies.RoundRobin,
            HealthCheck = Balancers.NoHealthChecks,
        });
        using var events = new EventRecorder(balancer.Events);
        using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        await events.WaitForAsync<ConnectAttemptFailed>();
        await events.WaitForAsync<BackendConnected>(2);

        var request = Loopback.RandomBytes(256 * 1024, seed: 8);
        await Loopback.SendAllAsync(client, request);
        client.Shutdown(SocketShutdown.Send);

        Assert.Equal(SHA256.HashData(request), SHA256.HashData(await Loopback.ReadToEndAsync(client)));
    }

    [Fact]
    public async Task Relay_BackendResetsAfterClientHalfClosed_ClientIsStillReset()
    {
        // A normal close on one side must not hide a later reset on the other.
        await using var backend = new LoopbackServer(async socket =>
        {
            await Loopback.ReadToEndAsync(socket);
            Loopback.Reset(socket);
        });
        await using var balancer = await Balancers.StartAsync(backend);
        using var events = new EventRecorder(balancer.Events);
        using var client = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);

        await Loopback.SendAllAsync(client, "bye"u8.ToArray());
        client.Shutdown(SocketShutdown.Send);
        var exception = await Assert.ThrowsAsync<SocketException>(() => Loopback.ReadToEndAsync(client));

        Assert.Equal(SocketError.ConnectionReset, exception.SocketErrorCode);
        var completed = Assert.Single(await events.WaitForAsync<ConnectionCompleted>());
        Assert.Equal(CompletionReason.BackendReset, completed.Reason);
    }

    // The backend's side of the exchange: sends nonce+payload while hashing everything it receives,
    // then a trailer of SHA-256(sent) and SHA-256(received), then closes.
    private static async Task ExchangeAsBackendAsync(Socket socket, byte[] payload)
    {
        using var sentHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var nonce = RandomNumberGenerator.GetBytes(NonceLength);
        sentHash.AppendData(nonce);
        sentHash.AppendData(payload);

        var sending = Task.Run(async () =>
        {
            await Loopback.SendAllAsync(socket, nonce);
            await Loopback.SendAllAsync(socket, payload);
        });
        var (_, receivedHash) = await Loopback.HashToEndAsync(socket);
        await sending;

        await Loopback.SendAllAsync(socket, sentHash.GetHashAndReset());
        await Loopback.SendAllAsync(socket, receivedHash);
        socket.Shutdown(SocketShutdown.Send);
    }

    // The client's side: sends nonce+payload and half-closes, while reading the backend's stream;
    // both directions are checked against the backend's trailer.
    private static async Task ExchangeAsClientAsync(TcpLoadBalancer balancer, byte[] payload)
    {
        using var socket = await Loopback.ConnectAsync(balancer.ListenEndPoints[0]);
        var nonce = RandomNumberGenerator.GetBytes(NonceLength);
        using var expected = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        expected.AppendData(nonce);
        expected.AppendData(payload);

        var sending = Task.Run(async () =>
        {
            await Loopback.SendAllAsync(socket, nonce);
            await Loopback.SendAllAsync(socket, payload);
            socket.Shutdown(SocketShutdown.Send);
        });

        using var receivedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var body = NonceLength + payload.Length;
        var trailer = new byte[TrailerLength];
        var buffer = new byte[64 * 1024];
        long total = 0;
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Loopback.Timeout);
            if (read == 0)
            {
                break;
            }

            for (var i = 0; i < read; i++, total++)
            {
                if (total >= body + TrailerLength)
                {
                    throw new InvalidDataException("The backend sent more than expected.");
                }

                if (total >= body)
                {
                    trailer[total - body] = buffer[i];
                }
            }

            var bodyBytes = (int)Math.Clamp(body - (total - read), 0, read);
            receivedHash.AppendData(buffer, 0, bodyBytes);
        }

        await sending.WaitAsync(Loopback.Timeout);
        Assert.Equal(body + TrailerLength, total);
        Assert.Equal(trailer[..32], receivedHash.GetHashAndReset());
        Assert.Equal(trailer[32..], expected.GetHashAndReset());
    }
}
