using System.Reflection;
using System.Text.RegularExpressions;
using NetArchTest.Rules;

namespace LoadBalancer.Reactive.Tests;

/// <summary>
/// The rooms of ARCHITECTURE.md ("Rules a test checks"), checked against the compiled library. A failure names
/// each type that breaks a rule and what it references, so the fix starts in the right file.
/// </summary>
[Trait("Category", "VirtualTime")]
public partial class ArchitectureTests
{
    private const string Root = "LoadBalancer.Reactive.";
    private const int FacadeMaxLines = 300;

    // Read once: every rule selects from the same compiled library.
    private static readonly Types s_library = Types.InAssembly(typeof(TcpLoadBalancer).Assembly);

    [Theory]
    [InlineData(Root + "Balancing", "the fold decides from addresses and counts; everything that touches a connection lives in the data path's rooms",
        Root + "Listening", Root + "Preface", Root + "Connections", Root + "Transport", Root + "Relaying", Root + "Tls", Root + "Health")]
    [InlineData(Root + "Balancing", "the fold is pure code that a test drives in virtual time, without sockets, pipes or TLS",
        "System.Net.Sockets", "System.Net.Security", "System.IO.Pipelines", "Pipelines.Sockets.Unofficial")]
    [InlineData(Root + "Relaying", "the relay moves bytes; what goes where was decided by the fold before it started", Root + "Balancing")]
    [InlineData(Root + "Transport", "connecting and relay ends serve any decision; they must not reach back into the fold", Root + "Balancing")]
    [InlineData(Root + "Health", "a probe connects through Transport; the relay carries client traffic only", Root + "Relaying")]
    [InlineData(Root + "Events", "host apps subscribe to events without taking the fold's internals with them", Root + "Balancing")]
    public void Room_ForbiddenNamespaces_AreNotReferenced(string room, string because, params string[] forbidden)
    {
        AssertReferencesNone(room, string.Join(", ", forbidden), because, forbidden);
    }

    [Fact]
    public void Balancing_Streams_AreNotReferenced()
    {
        AssertReferencesNone(Root + "Balancing", "System.IO.Stream or any stream derived from it",
            "the fold is pure code that a test drives in virtual time, without streams", StreamTypeNames());
    }

    [Fact(Skip = "Enabled when the facade rewrite lands: today TcpLoadBalancer is about 1,000 lines over four partial files.")]
    public void Facade_Source_IsOneShortFile()
    {
        var library = Path.Combine(ReadmeTests.RepositoryRoot(), "LoadBalancer.Reactive");
        var files = Directory.EnumerateFiles(library, "*.cs", SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(library, file))
            .Where(file => !IsBuildOutput(file) && FacadeDeclaration().IsMatch(File.ReadAllText(Path.Combine(library, file))))
            .Order(StringComparer.Ordinal)
            .Select(file => (File: file, Lines: File.ReadAllLines(Path.Combine(library, file)).Length))
            .ToList();

        // Both problems at once, so whoever shortens the facade sees everything that is left to do.
        var problems = new List<string>();
        if (files.Count != 1)
        {
            problems.Add($"TcpLoadBalancer is declared in {files.Count} files, expected one (partial files are for parts that share " +
                "no state; the facade's parts belong in the rooms): " + string.Join(", ", files.Select(f => $"{f.File} ({f.Lines} lines)")));
        }

        var lines = files.Sum(f => f.Lines);
        if (lines > FacadeMaxLines)
        {
            problems.Add($"TcpLoadBalancer has {lines} lines, at most {FacadeMaxLines} allowed: the facade wires the pipeline; " +
                "decisions belong in the fold or the connection's room.");
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    private static void AssertReferencesNone(string room, string described, string because, IReadOnlyCollection<string> forbidden)
    {
        // ResideInNamespace is a plain prefix match on the full name in NetArchTest 1.3.2: the trailing dot keeps a
        // sibling such as "BalancingX" out, while sub-namespaces (Balancing.Strategies) and nested types stay in.
        var inRoom = s_library.That().ResideInNamespace(room + ".");
        Assert.True(inRoom.GetTypes().Any(), $"No type lives in {room}: the room was renamed or moved, so this rule checks nothing.");

        var result = inRoom.ShouldNot().HaveDependencyOnAny([.. forbidden]).GetResult();
        if (result.IsSuccessful)
        {
            return;
        }

        // NetArchTest names the failing types but not what they reference: asking once per forbidden name tells.
        var referencedBy = forbidden
            .SelectMany(name => (inRoom.ShouldNot().HaveDependencyOn(name).GetResult().FailingTypeNames ?? []).Select(type => (type, name)))
            .ToLookup(pair => pair.type, pair => pair.name);
        var offences = result.FailingTypeNames.Order(StringComparer.Ordinal)
            .Select(type => $"  {type} references {string.Join(", ", referencedBy[type])}");

        Assert.Fail($"{room} must reference none of {described}: {because}. These types do:" +
            Environment.NewLine + string.Join(Environment.NewLine, offences));
    }

    private static string[] StreamTypeNames()
    {
        // NetArchTest matches dependencies by name, not by base type, so the names of every stream the library could
        // reach are gathered here: the library's own streams and the public ones of each assembly it references.
        // Forwarded types count, because a reference assembly such as System.Runtime only forwards to where a stream lives.
        var library = typeof(TcpLoadBalancer).Assembly;
        var referenced = library.GetReferencedAssemblies().Select(Assembly.Load)
            .SelectMany(assembly => assembly.GetExportedTypes().Concat(assembly.GetForwardedTypes()));

        return library.GetTypes().Concat(referenced)
            .Where(type => type.IsAssignableTo(typeof(Stream)))
            .Select(type => type.FullName!)
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToArray();
    }

    private static bool IsBuildOutput(string relativePath)
    {
        var top = relativePath.Split(Path.DirectorySeparatorChar)[0];
        return top is "bin" or "obj";
    }

    [GeneratedRegex(@"\b(class|record|struct)\s+TcpLoadBalancer\b")]
    private static partial Regex FacadeDeclaration();
}
