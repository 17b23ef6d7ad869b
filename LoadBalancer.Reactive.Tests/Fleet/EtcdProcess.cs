using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Etcdserverpb;
using LoadBalancer.Reactive.Discovery;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Fleet;

/// <summary>
/// A real etcd (the <c>etcd</c> of apt's <c>etcd-server</c>) on free loopback ports with a temporary data directory,
/// killed by its PID when disposed. A missing etcd fails the test that needs it; it never skips.
/// </summary>
public sealed class EtcdProcess : IAsyncDisposable
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("lb-etcd-").FullName;
    private readonly int _clientPort = FreePort();
    private readonly int _peerPort = FreePort();
    private Process? _process;

    private EtcdProcess()
    {
    }

    /// <summary>The client URL, <c>http://127.0.0.1:PORT</c>.</summary>
    public string Url => $"http://127.0.0.1:{_clientPort}";

    /// <summary>The client endpoint, for a proxy in front of it.</summary>
    public IPEndPoint EndPoint => new(IPAddress.Loopback, _clientPort);

    /// <summary>Starts etcd and waits until it answers.</summary>
    public static async Task<EtcdProcess> StartAsync()
    {
        var etcd = new EtcdProcess();
        await etcd.RestartAsync();
        return etcd;
    }

    /// <summary>Kills etcd (as a crash would); its data stays for <see cref="RestartAsync"/>.</summary>
    public async Task KillAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            process.Kill();
            await process.WaitForExitAsync().WaitAsync(Loopback.Timeout);
            process.Dispose();
        }
    }

    /// <summary>Starts etcd again on the same ports and data, and waits until it answers.</summary>
    public async Task RestartAsync()
    {
        await DebianPackages.EnsureAsync("etcd", "etcd-server", "etcd-client");
        var start = new ProcessStartInfo("etcd")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "--name", "test",
            "--data-dir", _dataDirectory,
            "--listen-client-urls", Url,
            "--advertise-client-urls", Url,
            "--listen-peer-urls", $"http://127.0.0.1:{_peerPort}",
            "--initial-advertise-peer-urls", $"http://127.0.0.1:{_peerPort}",
            "--initial-cluster", $"test=http://127.0.0.1:{_peerPort}",
            // A one-member cluster elects itself at once with short ticks, and leases as short as 1 s are allowed.
            "--heartbeat-interval", "10",
            "--election-timeout", "100",
            "--log-level", "error",
        })
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            _process = Process.Start(start)!;
        }
        catch (Win32Exception exception)
        {
            throw new InvalidOperationException("etcd is not installed and could not be: apt-get install etcd-server.", exception);
        }

        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitUntilAnswersAsync();
    }

    /// <summary>Writes a key.</summary>
    public async Task PutAsync(string key, string value)
    {
        using var etcd = new EtcdConnection([Url]);
        await etcd.KV.PutAsync(new PutRequest { Key = EtcdConnection.Key(key), Value = Google.Protobuf.ByteString.CopyFromUtf8(value) })
            .ResponseAsync.WaitAsync(Loopback.Timeout);
    }

    /// <summary>Reads a key's value; empty when it is not there.</summary>
    public async Task<string> GetAsync(string key)
    {
        using var etcd = new EtcdConnection([Url]);
        var range = await etcd.KV.RangeAsync(new RangeRequest { Key = EtcdConnection.Key(key) }).ResponseAsync.WaitAsync(Loopback.Timeout);
        return range.Kvs.Count > 0 ? range.Kvs[0].Value.ToStringUtf8() : string.Empty;
    }

    /// <summary>Deletes a key.</summary>
    public async Task DeleteAsync(string key)
    {
        using var etcd = new EtcdConnection([Url]);
        await etcd.KV.DeleteRangeAsync(new DeleteRangeRequest { Key = EtcdConnection.Key(key) }).ResponseAsync.WaitAsync(Loopback.Timeout);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A temporary directory left behind is no failure of the test.
        }
    }

    private async Task WaitUntilAnswersAsync()
    {
        using var etcd = new EtcdConnection([Url]);
        var deadline = DateTime.UtcNow + Loopback.Timeout;
        while (true)
        {
            if (_process is { HasExited: true } exited)
            {
                throw new InvalidOperationException($"etcd exited with code {exited.ExitCode} before answering.");
            }

            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await etcd.KV.RangeAsync(new RangeRequest { Key = EtcdConnection.Key("/") }, cancellationToken: attempt.Token);
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
