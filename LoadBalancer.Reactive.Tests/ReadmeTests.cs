using System.Text.RegularExpressions;

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

    [Fact]
    public void Readme_AndEveryGuide_LinkOnlyToFilesAndHeadingsThatExist()
    {
        var root = RepositoryRoot();
        var documents = Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Prepend(Path.Combine(root, "README.md"));
        var broken = new List<string>();
        foreach (var document in documents)
        {
            foreach (var target in Links(File.ReadAllText(document)).Where(link => !IsWebLink(link)))
            {
                var (path, anchor) = Split(target);
                var file = path.Length == 0 ? document : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(document)!, path));
                if (!File.Exists(file) && !Directory.Exists(file))
                {
                    broken.Add($"{Path.GetRelativePath(root, document)}: {target} (no such file)");
                }
                else if (anchor.Length > 0 && file.EndsWith(".md", StringComparison.Ordinal) && !Headings(File.ReadAllText(file)).Contains(anchor))
                {
                    broken.Add($"{Path.GetRelativePath(root, document)}: {target} (no such heading)");
                }
            }
        }

        Assert.Empty(broken);
    }

    [Fact]
    public void PackageReadme_HasNoLinkThatBreaksOutsideTheRepository_AndShowsTheEmbeddingExample()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "LoadBalancer.Reactive", "PACKAGE.md"));
        var example = File.ReadAllText(Path.Combine(root, "examples", "Embedding", "Program.cs"));

        Assert.Empty(Links(readme).Where(link => !IsWebLink(link) && !(link.StartsWith('#') && Headings(readme).Contains(link[1..]))));
        Assert.Contains("```csharp\n" + example + "```", readme, StringComparison.Ordinal);
        Assert.Contains("<PackageReadmeFile>PACKAGE.md</PackageReadmeFile>", File.ReadAllText(Path.Combine(root, "LoadBalancer.Reactive", "LoadBalancer.Reactive.csproj")), StringComparison.Ordinal);
    }

    // Markdown links and images, [text](target), outside code blocks.
    private static IEnumerable<string> Links(string markdown) =>
        Regex.Matches(Regex.Replace(markdown, "```.*?```", string.Empty, RegexOptions.Singleline), @"\]\(([^)\s]+)\)").Select(m => m.Groups[1].Value);

    private static bool IsWebLink(string link) => link.StartsWith("https://", StringComparison.Ordinal) || link.StartsWith("http://", StringComparison.Ordinal);

    private static (string Path, string Anchor) Split(string target) =>
        target.IndexOf('#') is var hash and >= 0 ? (target[..hash], target[(hash + 1)..]) : (target, string.Empty);

    // GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens.
    private static HashSet<string> Headings(string markdown) =>
        [.. Regex.Matches(markdown, "^#+ (.+)$", RegexOptions.Multiline)
            .Select(m => Regex.Replace(m.Groups[1].Value.Trim().ToLowerInvariant(), @"[^\w\- ]", string.Empty).Replace(' ', '-'))];

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
