using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using LoadBalancer.Reactive;
using LoadBalancer.Reactive.Configuration;

namespace Micro;

/// <summary>
/// One short connection over loopback (connect, send a byte, read it back, close), directly to an echo
/// server and through a balancer: the difference in allocated bytes is what the balancer allocates per
/// relayed connection (its accept, fold, connect, relay and events).
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class RelayBenchmarks
{
    private readonly byte[] _byte = [42];
    private readonly byte[] _buffer = new byte[1];
    private Socket _echo = null!;
    private Task _echoing = Task.CompletedTask;
    private TcpLoadBalancer _balancer = null!;
    private IPEndPoint _direct = null!;
    private IPEndPoint _balanced = null!;

    [GlobalSetup]
    public void Setup()
    {
        _echo = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _echo.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _echo.Listen(1024);
        _direct = (IPEndPoint)_echo.LocalEndPoint!;
        _echoing = EchoAsync();
        _balancer = new TcpLoadBalancer(new LoadBalancerOptions
        {
            Listen = ["127.0.0.1:0"],
            Backends = [new BackendOptions(_direct.ToString())],
            HealthCheck = new HealthCheckOptions { Enabled = false },
        });
        _balancer.StartAsync().GetAwaiter().GetResult();
        _balanced = _balancer.ListenEndPoints[0];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _balancer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _echo.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Task Direct() => RoundTripAsync(_direct);

    [Benchmark]
    public Task ThroughTheBalancer() => RoundTripAsync(_balanced);

    private async Task RoundTripAsync(IPEndPoint endPoint)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(endPoint);
        await client.SendAsync(_byte, SocketFlags.None);
        await client.ReceiveAsync(_buffer, SocketFlags.None);
        client.Shutdown(SocketShutdown.Send);
        while (await client.ReceiveAsync(_buffer, SocketFlags.None) > 0)
        {
        }
    }

    private async Task EchoAsync()
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await _echo.AcceptAsync();
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                using var socket = accepted;
                var buffer = new byte[64];
                try
                {
                    int read;
                    while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                    {
                        await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                    }
                }
                catch (SocketException)
                {
                }
            });
        }
    }
}
