using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Mono.Cecil;
using NetArchTest.Rules;

namespace LoadBalancer.Reactive.Tests;

/// <summary>
/// The rooms of ARCHITECTURE.md ("Rules a test checks"), checked against the compiled library. A failure names
/// each type that breaks a rule and what it references, so the fix starts in the right file.
/// </summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public partial class ArchitectureTests
{
    private const string Root = "LoadBalancer.Reactive.";
    // Lines other than XML doc comments: the public API's documentation lives on the facade and is not wiring.
    private const int FacadeMaxLines = 250;

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

    [Fact]
    public void Facade_Source_IsOneShortFile()
    {
        var library = Path.Combine(ReadmeTests.RepositoryRoot(), "LoadBalancer.Reactive");
        var files = Directory.EnumerateFiles(library, "*.cs", SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(library, file))
            .Where(file => !IsBuildOutput(file) && FacadeDeclaration().IsMatch(File.ReadAllText(Path.Combine(library, file))))
            .Order(StringComparer.Ordinal)
            .Select(file => (File: file, Lines: File.ReadAllLines(Path.Combine(library, file)).Count(line => !line.TrimStart().StartsWith("///", StringComparison.Ordinal))))
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
            problems.Add($"TcpLoadBalancer has {lines} lines besides doc comments, at most {FacadeMaxLines} allowed: the facade wires the pipeline; " +
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

        var signatures = new SignaturesMention(forbidden);
        var direct = inRoom.ShouldNot().HaveDependencyOnAny([.. forbidden]).GetResult();
        var passedAlong = inRoom.ShouldNot().MeetCustomRule(signatures).GetResult();
        if (direct.IsSuccessful && passedAlong.IsSuccessful)
        {
            return;
        }

        // NetArchTest names the failing types but not what they reference: asking once per forbidden name tells.
        var offences = forbidden
            .SelectMany(name => (inRoom.ShouldNot().HaveDependencyOn(name).GetResult().FailingTypeNames ?? []).Select(type => (Type: type, What: name)))
            .Concat(signatures.Found)
            .GroupBy(offence => offence.Type, offence => offence.What)
            .OrderBy(type => type.Key, StringComparer.Ordinal)
            .Select(type => $"  {type.Key} references {string.Join(", ", type.Distinct().Order(StringComparer.Ordinal))}");

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

    /// <summary>
    /// Finds forbidden types in the signatures of the methods and fields a type uses. NetArchTest 1.3.2 looks only at
    /// the declaring type of a called member, so a socket handed from one helper in another room to the next, never
    /// stored in a local, would pass unseen.
    /// </summary>
    private sealed class SignaturesMention(IEnumerable<string> forbidden) : ICustomRule
    {
        // Reflection spells a nested type Outer+Inner, Mono.Cecil Outer/Inner.
        private readonly string[] _forbidden = [.. forbidden.Select(name => name.Replace('+', '/'))];

        public List<(string Type, string What)> Found { get; } = [];

        public bool MeetsRule(TypeDefinition type)
        {
            // The type's own members and those of its generated types are NetArchTest's to check; only the members
            // of other types add something.
            var found = Operands(type)
                .Where(member => member.DeclaringType.FullName != type.FullName && !member.DeclaringType.FullName.StartsWith(type.FullName + "/", StringComparison.Ordinal))
                .SelectMany(member => Signature(member).SelectMany(Matches).Select(name => $"{name} (in the signature of {member.DeclaringType.FullName}.{member.Name})"))
                .Distinct()
                .Select(what => (type.FullName, what))
                .ToList();
            Found.AddRange(found);
            return found.Count > 0;
        }

        // The methods called and fields used. Lambdas and async methods compile into nested generated types; their
        // code is the declaring type's code.
        private static IEnumerable<MemberReference> Operands(TypeDefinition type) =>
            type.Methods.Where(method => method.HasBody).SelectMany(method => method.Body.Instructions)
                .Select(instruction => instruction.Operand).Where(operand => operand is MethodReference or FieldReference).Cast<MemberReference>()
                .Concat(type.NestedTypes.Where(IsCompilerGenerated).SelectMany(Operands));

        private static bool IsCompilerGenerated(TypeDefinition type) =>
            type.CustomAttributes.Any(attribute => attribute.AttributeType.FullName == typeof(CompilerGeneratedAttribute).FullName);

        private static IEnumerable<TypeReference> Signature(MemberReference member) => member switch
        {
            MethodReference method => method.Parameters.Select(parameter => parameter.ParameterType).Prepend(method.ReturnType),
            FieldReference field => [field.FieldType],
            _ => [],
        };

        private IEnumerable<string> Matches(TypeReference type) => type switch
        {
            GenericParameter => [],
            GenericInstanceType generic => Matches(generic.ElementType).Concat(generic.GenericArguments.SelectMany(Matches)),
            TypeSpecification { ElementType: { } element } => Matches(element),
            _ => _forbidden.Where(name => type.FullName == name || type.FullName.StartsWith(name + ".", StringComparison.Ordinal)
                || type.FullName.StartsWith(name + "/", StringComparison.Ordinal)),
        };
    }
}
