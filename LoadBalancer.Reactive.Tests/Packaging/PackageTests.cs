using System.Diagnostics;
using System.IO.Compression;
using LoadBalancer.Reactive.Tests.Infrastructure;

namespace LoadBalancer.Reactive.Tests.Packaging;

/// <summary>
/// The NuGet package, used the way someone who installs it would: packed, referenced from a local folder
/// by a brand-new console app, and run to balance a connection over loopback.
/// </summary>
[Collection(nameof(RealTimeCollection))]
[Trait(TestCategories.Name, TestCategories.Process)]
public sealed class PackageTests : IDisposable
{
    private static readonly TimeSpan s_step = TimeSpan.FromMinutes(4);
    private readonly string _work = Directory.CreateTempSubdirectory("lb-package-").FullName;

    [Fact]
    public async Task Package_InstalledInAFreshConsoleApp_BalancesAConnection()
    {
        // A version of its own, so the NuGet cache can never hand back an older build.
        var version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        var feed = Path.Combine(_work, "feed");
        var root = ReadmeTests.RepositoryRoot();
        await RunAsync("dotnet", ["pack", Path.Combine(root, "LoadBalancer.Reactive"), "-c", "Release", "-o", feed, $"-p:Version={version}", "-nologo"], root);
        Assert.True(File.Exists(Path.Combine(feed, $"LoadBalancer.Reactive.{version}.nupkg")));
        Assert.True(File.Exists(Path.Combine(feed, $"LoadBalancer.Reactive.{version}.snupkg")));
        using (var package = ZipFile.OpenRead(Path.Combine(feed, $"LoadBalancer.Reactive.{version}.nupkg")))
        {
            using var packed = new StreamReader(package.GetEntry("PACKAGE.md")!.Open());
            Assert.Equal(File.ReadAllText(Path.Combine(root, "LoadBalancer.Reactive", "PACKAGE.md")), await packed.ReadToEndAsync());
        }

        var app = Path.Combine(_work, "app");
        Directory.CreateDirectory(app);
        await File.WriteAllTextAsync(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <RestoreAdditionalProjectSources>{feed}</RestoreAdditionalProjectSources>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="LoadBalancer.Reactive" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), """
            using System.Net;
            using System.Net.Sockets;
            using LoadBalancer.Reactive;
            using LoadBalancer.Reactive.Configuration;

            // An echo backend, a balancer in front of it, and one round trip through the balancer.
            using var echo = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            echo.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            echo.Listen();
            _ = Task.Run(async () =>
            {
                using var server = await echo.AcceptAsync();
                var buffer = new byte[16];
                var read = await server.ReceiveAsync(buffer);
                await server.SendAsync(buffer.AsMemory(0, read));
            });

            await using var balancer = new TcpLoadBalancer(new LoadBalancerOptions
            {
                Listen = ["127.0.0.1:0"],
                Backends = [new BackendOptions(echo.LocalEndPoint!.ToString()!)],
                HealthCheck = new HealthCheckOptions { Enabled = false },
            });
            await balancer.StartAsync();

            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(balancer.ListenEndPoints[0]);
            await client.SendAsync("ping"u8.ToArray());
            var answer = new byte[4];
            var got = await client.ReceiveAsync(answer);
            Console.WriteLine(System.Text.Encoding.ASCII.GetString(answer, 0, got) == "ping" ? "BALANCED" : "WRONG");
            """);

        var output = await RunAsync("dotnet", ["run", "--project", app, "-nologo"], app);

        Assert.Contains("BALANCED", output, StringComparison.Ordinal);
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

    private static async Task<string> RunAsync(string file, string[] arguments, string directory)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        arguments.ToList().ForEach(start.ArgumentList.Add);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(s_step);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var all = await output + await error;
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{all}");
        return all;
    }
}
