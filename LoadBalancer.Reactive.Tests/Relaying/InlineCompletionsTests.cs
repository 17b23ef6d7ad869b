using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Relaying;

/// <summary>
/// The relay with socket completions and pipe continuations inline on the runtime's event threads, as the
/// standalone Quickstart runs it. That switch is per process and read once, so the balancer runs as a child
/// process here; the rest of the suite covers the thread-pool default.
/// </summary>
[Trait(TestCategories.Name, TestCategories.Process)]
public partial class InlineCompletionsTests
{
    private const byte Exchange = (byte)'E';
    private const byte GreetFirst = (byte)'G';
    private const byte ResetMidway = (byte)'R';
    private static readonly byte[] s_answer = Loopback.RandomBytes(1024 * 1024, seed: 41);
    private readonly TaskCompletionSource<byte[]> _uploadSeen = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task InlineRelay_ConcurrentExchangesBothHalfClosesAndAReset_AreExact()
    {
        await using var backend = new LoopbackServer(ServeAsync);
        await using var balancer = await QuickstartProcess.StartAsync(
            "--backend", backend.Address, "--no-health-checks", "--quiet");

        // Twenty at once, each 2 MiB up with a half-close, then the backend's hash of it and 1 MiB down.
        var exchanges = Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
        {
            var upload = Loopback.RandomBytes(2 * 1024 * 1024, seed: 100 + i);
            using var client = await Loopback.ConnectAsync(balancer.EndPoint);
            await Loopback.SendAllAsync(client, new[] { Exchange });
            await Loopback.SendAllAsync(client, upload);
            client.Shutdown(SocketShutdown.Send);
            var received = await Loopback.ReadToEndAsync(client);
            Assert.Equal([.. SHA256.HashData(upload), .. s_answer], received);
        }));
        await Task.WhenAll(exchanges).WaitAsync(Loopback.Timeout);

        // The backend closes its side first; the client can still send everything.
        using (var client = await Loopback.ConnectAsync(balancer.EndPoint))
        {
            await Loopback.SendAllAsync(client, new[] { GreetFirst });
            var greeting = await Loopback.ReadToEndAsync(client);
            Assert.Equal(SHA256.HashData(s_answer), SHA256.HashData(greeting));
            var upload = Loopback.RandomBytes(1024 * 1024, seed: 42);
            await Loopback.SendAllAsync(client, upload);
            client.Shutdown(SocketShutdown.Send);
            Assert.Empty(await Loopback.ReadToEndAsync(client));
            Assert.Equal(SHA256.HashData(upload), await _uploadSeen.Task.WaitAsync(Loopback.Timeout));
        }

        // A backend's reset reaches the client as a reset.
        using (var client = await Loopback.ConnectAsync(balancer.EndPoint))
        {
            await Loopback.SendAllAsync(client, new[] { ResetMidway });
            var error = await Assert.ThrowsAsync<SocketException>(() => Loopback.ReadToEndAsync(client));
            Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        }
    }

    [Fact]
    public async Task InlineRelay_TlsTermination_ConcurrentExchangesAreExact()
    {
        using var pem = new Infrastructure.Tls.PemFiles();
        await using var backend = new LoopbackServer(ServeAsync);
        await using var balancer = await QuickstartProcess.StartAsync(
            "--backend", backend.Address, "--no-health-checks", "--quiet", "--tls-cert", pem.CertificatePath, "--tls-key", pem.KeyPath);

        // Ten handshakes and exchanges at once, on the event threads: 1 MiB up with close_notify and FIN,
        // the backend's hash of it and 1 MiB down.
        var exchanges = Enumerable.Range(0, 10).Select(i => Task.Run(async () =>
        {
            var upload = Loopback.RandomBytes(1024 * 1024, seed: 200 + i);
            using var client = await Loopback.ConnectAsync(balancer.EndPoint);
            await using var tls = await Infrastructure.Tls.HandshakeAsync(client, "localhost", pem.Certificate);
            await tls.WriteAsync(new[] { Exchange }).AsTask().WaitAsync(Loopback.Timeout);
            await tls.WriteAsync(upload).AsTask().WaitAsync(Loopback.Timeout);
            await tls.ShutdownAsync().WaitAsync(Loopback.Timeout);
            client.Shutdown(SocketShutdown.Send);
            var received = await Loopback.ReadToEndAsync(tls);
            Assert.Equal([.. SHA256.HashData(upload), .. s_answer], received);
        }));
        await Task.WhenAll(exchanges).WaitAsync(Loopback.Timeout);
    }

    // The first byte says what the backend does: the client's scenario, in one backend.
    private async Task ServeAsync(Socket socket)
    {
        var scenario = new byte[1];
        if (await socket.ReceiveAsync(scenario, SocketFlags.None) == 0)
        {
            return;
        }

        switch (scenario[0])
        {
            case Exchange:
                var (_, hash) = await Loopback.HashToEndAsync(socket);
                await Loopback.SendAllAsync(socket, hash);
                await Loopback.SendAllAsync(socket, s_answer);
                socket.Shutdown(SocketShutdown.Send);
                break;
            case GreetFirst:
                await Loopback.SendAllAsync(socket, s_answer);
                socket.Shutdown(SocketShutdown.Send);
                var (_, uploaded) = await Loopback.HashToEndAsync(socket);
                _uploadSeen.SetResult(uploaded);
                break;
            case ResetMidway:
                await Loopback.SendAllAsync(socket, s_answer.AsMemory(0, 1000));
                Loopback.Reset(socket);
                break;
        }
    }

    /// <summary>The Quickstart balancer in its own process, listening on a free port, killed when disposed.</summary>
    private sealed partial class QuickstartProcess : IAsyncDisposable
    {
        private readonly Process _process;

        private QuickstartProcess(Process process, IPEndPoint endPoint)
        {
            _process = process;
            EndPoint = endPoint;
        }

        public IPEndPoint EndPoint { get; }

        public static async Task<QuickstartProcess> StartAsync(params string[] arguments)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(QuickstartDll());
            start.ArgumentList.Add("--listen");
            start.ArgumentList.Add("127.0.0.1:0");
            arguments.ToList().ForEach(start.ArgumentList.Add);
            // Quickstart turns inline completions on for itself when the variable is not set (Program.cs).
            start.Environment.Remove("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS");
            var process = Process.Start(start)!;
            try
            {
                while (await process.StandardOutput.ReadLineAsync().WaitAsync(Loopback.Timeout) is { } line)
                {
                    if (ListeningOn().Match(line) is { Success: true } match)
                    {
                        return new QuickstartProcess(process, IPEndPoint.Parse(match.Groups[1].Value));
                    }
                }

                throw new InvalidOperationException($"Quickstart ended without listening: {await process.StandardError.ReadToEndAsync()}");
            }
            catch
            {
                process.Kill(entireProcessTree: true);
                process.Dispose();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(Loopback.Timeout);
            _process.Dispose();
        }

        // The project reference builds Quickstart beside this project, in the same configuration: run it
        // from its own output, where its dependencies are its own.
        private static string QuickstartDll()
        {
            var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var (framework, configuration) = (testOutput.Name, testOutput.Parent!.Name);
            var root = testOutput.Parent!.Parent!.Parent!.Parent!.FullName;
            return Path.Combine(root, "examples", "Quickstart", "bin", configuration, framework, "Quickstart.dll");
        }

        [GeneratedRegex(@"listening on (\d+\.\d+\.\d+\.\d+:\d+)")]
        private static partial Regex ListeningOn();
    }
}
