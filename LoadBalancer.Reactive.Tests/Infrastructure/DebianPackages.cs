using System.Diagnostics;

namespace LoadBalancer.Reactive.Tests.Infrastructure;

/// <summary>
/// Installs the Debian packages a test drives (etcd, socat) when their command is missing, so that
/// <c>dotnet test LoadBalancer.sln</c> sets up a fresh machine by itself, as <c>.ci/run</c> does. A package that cannot be
/// installed fails the test that needs it; nothing is skipped.
/// </summary>
internal static class DebianPackages
{
    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private static readonly TimeSpan s_installTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Makes sure <paramref name="command"/> is on the PATH, installing <paramref name="packages"/> with apt-get if not.</summary>
    public static async Task EnsureAsync(string command, params string[] packages)
    {
        if (IsOnPath(command))
        {
            return;
        }

        await s_gate.WaitAsync();
        try
        {
            if (IsOnPath(command))
            {
                return;
            }

            await RunAsync("apt-get", ["update", "-qq"]);
            await RunAsync("apt-get", ["install", "-y", "-qq", .. packages]);
            if (!IsOnPath(command))
            {
                throw new InvalidOperationException($"'{command}' is still missing after installing {string.Join(", ", packages)}.");
            }
        }
        finally
        {
            s_gate.Release();
        }
    }

    private static bool IsOnPath(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Combine(directory, command)));

    // As root directly; otherwise through sudo without a password prompt (which fails rather than waits).
    private static async Task RunAsync(string tool, string[] arguments)
    {
        var asRoot = Environment.UserName == "root";
        var start = new ProcessStartInfo(asRoot ? tool : "sudo") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        if (!asRoot)
        {
            start.ArgumentList.Add("-n");
            start.ArgumentList.Add(tool);
        }

        arguments.ToList().ForEach(start.ArgumentList.Add);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} did not start.");
        var errors = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(s_installTimeout);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await errors}");
        }
    }
}
