namespace LoadBalancer.Reactive.Tests;

/// <summary>Keeps the README honest: its embedding snippet is the example that the build compiles.</summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class ReadmeTests
{
    [Fact]
    public void Readme_EmbeddingSnippet_IsTheEmbeddingExampleVerbatim()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var example = File.ReadAllText(Path.Combine(root, "examples", "Embedding", "Program.cs"));

        Assert.Contains("```csharp\n" + example + "```", readme, StringComparison.Ordinal);
    }

    [Fact]
    public void Readme_ShowsTheTwoCommands()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));

        Assert.Contains("dotnet run --project examples/Quickstart", readme, StringComparison.Ordinal);
        Assert.Contains("dotnet test LoadBalancer.sln", readme, StringComparison.Ordinal);
    }

    [Fact]
    public void Readme_ShowsHowToRunTheFastTestsAlone()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));

        Assert.Contains($"dotnet test LoadBalancer.sln --filter {TestCategories.Name}={TestCategories.VirtualTime}", readme, StringComparison.Ordinal);
    }

    internal static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "LoadBalancer.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("LoadBalancer.sln not found above the test binaries.");
    }
}
