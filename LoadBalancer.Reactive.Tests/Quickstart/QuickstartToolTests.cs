using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Quickstart;

/// <summary>
/// The Quickstart as the .NET tool <c>lbr</c>, used the way someone who installs it would: packed into a local
/// folder, installed from it (into a tool path, not globally), asked its version, asked to check a configuration,
/// and run to balance a connection over loopback.
/// </summary>
[Collection(nameof(RealTimeCollection))]
[Trait(TestCategories.Name, TestCategories.Process)]
public sealed partial class QuickstartToolTests : IDisposable
{
    private static readonly TimeSpan s_step = TimeSpan.FromMinutes(4);
    private static readonly TimeSpan s_pack = TimeSpan.FromMinutes(8);
    private readonly string _work = Directory.CreateTempSubdirectory("lb-tool-").FullName;

    [Fact]
    public async Task Tool_InstalledFromALocalFolder_ChecksAConfiguration_Balances_AndReloadsOnSighup()
    {
        // A version of its own, so the NuGet cache can never hand back an older build.
        var version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        var feed = Path.Combine(_work, "feed");
        var tools = Path.Combine(_work, "tools");
        var root = ReadmeTests.RepositoryRoot();
        // Three packs, one of them a Native AOT compile: a budget of their own on a slow machine.
        await RunAsync("bash", [Path.Combine(root, "examples", "Quickstart", "pack-tool.sh"), feed, $"-p:Version={version}"], root, timeout: s_pack);
        await RunAsync("dotnet", ["tool", "install", "--tool-path", tools, "--add-source", feed, "LoadBalancer.Reactive.Quickstart", "--version", version], _work);
        var lbr = Path.Combine(tools, "lbr");

        // On linux-x64 the install resolves to the Native AOT package: one native executable, no assembly for a runtime to load.
        if (OperatingSystem.IsLinux() && RuntimeInformation.OSArchitecture == Architecture.X64)
        {
            var executable = new FileInfo(lbr).ResolveLinkTarget(returnFinalTarget: true)?.FullName
                ?? throw new Xunit.Sdk.XunitException($"{lbr} is not the link to a package's executable that dotnet tool install makes");
            Assert.Contains("loadbalancer.reactive.quickstart.linux-x64", executable, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.ChangeExtension(executable, ".dll")), executable);
        }

        Assert.Contains(version, (await RunAsync(lbr, ["--version"], _work)).Output, StringComparison.Ordinal);

        await using var backend = LoopbackServer.Named();
        await using var replacement = LoopbackServer.Named();
        var config = Path.Combine(_work, "balancer.json");
        await File.WriteAllTextAsync(config, $$"""
            { "Listen": ["127.0.0.1:0"], "Backends": [ { "Address": "{{backend.Address}}" } ], "HealthCheck": { "Enabled": false }, "DrainTimeout": "1s" }
            """);
        Assert.Contains("Configuration is valid", (await RunAsync(lbr, ["--check", "--config", config], _work)).Output, StringComparison.Ordinal);
        var broken = await RunAsync(lbr, ["--check", "--config", config, "--connect-attempts=many"], _work, expectedExit: 2);
        Assert.Contains("--connect-attempts 'many' is not a whole number.", broken.Error, StringComparison.Ordinal);

        var start = Start(lbr, ["--config", config, "--quiet"], _work);
        using var process = Process.Start(start)!;
        try
        {
            var endPoint = await ListeningEndPointAsync(process);
            Assert.Equal(backend.Address, await Loopback.AskAsync(endPoint));

            await File.WriteAllTextAsync(config, (await File.ReadAllTextAsync(config)).Replace(backend.Address, replacement.Address, StringComparison.Ordinal));
            using (var hup = Process.Start("kill", ["-HUP", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await hup.WaitForExitAsync().WaitAsync(Loopback.Timeout);
            }

            await LineAsync(process, "reload: applied balancer.json: 1 backend(s)");
            Assert.Equal(replacement.Address, await Loopback.AskAsync(endPoint));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WaitAsync(Loopback.Timeout);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
            // A build server may still hold a file; the temporary folder is left for the system to clean.
        }
    }

    private static async Task<IPEndPoint> ListeningEndPointAsync(Process process)
    {
        while (await process.StandardOutput.ReadLineAsync().WaitAsync(Loopback.Timeout) is { } line)
        {
            if (Balancing().Match(line) is { Success: true } match)
            {
                return IPEndPoint.Parse(match.Groups[1].Value);
            }
        }

        throw new InvalidOperationException($"lbr ended without listening: {await process.StandardError.ReadToEndAsync()}");
    }

    private static async Task LineAsync(Process process, string expected)
    {
        while (await process.StandardOutput.ReadLineAsync().WaitAsync(Loopback.Timeout) is { } line)
        {
            if (line == expected)
            {
                return;
            }
        }

        throw new InvalidOperationException($"lbr ended before printing '{expected}': {await process.StandardError.ReadToEndAsync()}");
    }

    private static ProcessStartInfo Start(string file, string[] arguments, string directory)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        arguments.ToList().ForEach(start.ArgumentList.Add);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment.Remove("NOTIFY_SOCKET");
        return start;
    }

    private static async Task<(string Output, string Error)> RunAsync(
        string file, string[] arguments, string directory, int expectedExit = 0, TimeSpan? timeout = null)
    {
        using var process = Process.Start(Start(file, arguments, directory))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout ?? s_step);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var (stdout, stderr) = (await output, await error);
        Assert.True(process.ExitCode == expectedExit, $"{file} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{stdout}{stderr}");
        return (stdout, stderr);
    }

    [GeneratedRegex(@"^Balancing (\d+\.\d+\.\d+\.\d+:\d+) ")]
    private static partial Regex Balancing();
}
