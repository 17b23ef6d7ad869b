using System.Net;
using System.Reactive.Subjects;
using System.Security.Cryptography.X509Certificates;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;
using LoadBalancer.Reactive.Events;
using LoadBalancer.Reactive.Pipeline;
using static LoadBalancer.Reactive.Tests.Balancing.FoldTesting;

namespace LoadBalancer.Reactive.Tests.Pipeline;

/// <summary>
/// The operator's membership calls before they become fold inputs: what they check, what they define in the
/// catalog, and what they post. The members are a fake snapshot; posting only records.
/// </summary>
[Trait(TestCategories.Name, TestCategories.VirtualTime)]
public class MembershipCommandsTests
{
    private const string A = "10.0.0.1:80";
    private const string B = "10.0.0.2:80";
    private const string C = "10.0.0.3:80";

    private static readonly HealthCheckOptions s_defaultHealthCheck = new();

    private readonly List<BackendSnapshot> _members = [.. State(2).Backends];
    private readonly List<BalancerInput> _posted = [];
    private readonly List<bool> _definedWhenPosted = [];
    private readonly BackendCatalog _catalog;
    private readonly MembershipCommands _commands;
    private readonly DesiredMembership _desired;

    public MembershipCommandsTests()
    {
        _catalog = new BackendCatalog([Define(new BackendOptions(A)), Define(new BackendOptions(B))]);
        _desired = new DesiredMembership(() => _members, [new BackendOptions(A), new BackendOptions(B)]);
        _commands = new MembershipCommands(_catalog, () => s_defaultHealthCheck, _desired, input =>
        {
            _definedWhenPosted.Add(input is not AddBackend add || _catalog.Find(add.Backend.Address) is not null);
            _posted.Add(input);
        });
    }

    [Fact]
    public void Add_InvalidAddress_IsRefusedNamingBackendAndTheAddressBeforeAnythingIsPostedOrDefined()
    {
        var refused = Assert.Throws<LoadBalancerOptionsException>(() => _commands.Add(new BackendOptions("not-an-endpoint")));

        Assert.Equal(["Backend[0].Address 'not-an-endpoint' is not HOST:PORT."], refused.Errors);
        Assert.Empty(_posted);
        Assert.Null(_catalog.Find("not-an-endpoint"));
    }

    [Fact]
    public void Add_ActiveMember_ThrowsAlreadyAMemberAndKeepsItsDefinition()
    {
        var before = _catalog.Find(A);

        var refused = Assert.Throws<LoadBalancerOptionsException>(
            () => _commands.Add(new BackendOptions(A, weight: 5) { SendProxy = ProxyProtocolVersion.V2 }));

        Assert.Equal([$"Backend '{A}' is already a member."], refused.Errors);
        Assert.Same(before, _catalog.Find(A));
        Assert.Empty(_posted);
    }

    [Fact]
    public void Add_DrainingMember_ResumesItWithItsNewDefinition()
    {
        _members[0] = _members[0] with { Draining = true };
        var before = _catalog.Find(A);
        var resumed = new BackendOptions(A, weight: 4) { SendProxy = ProxyProtocolVersion.V1 };

        _commands.Add(resumed);

        Assert.Equal([new AddBackend(resumed)], _posted);
        Assert.NotSame(before, _catalog.Find(A));
        Assert.Equal(ProxyProtocolVersion.V1, _catalog.Find(A)!.SendProxy);
    }

    [Fact]
    public void Add_NewBackend_DefinesItBeforePostingIt()
    {
        var added = new BackendOptions(C, weight: 2);

        _commands.Add(added);

        Assert.Equal([new AddBackend(added)], _posted);
        Assert.Equal([true], _definedWhenPosted);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.3"), 80), _catalog.Find(C)!.EndPoint);
    }

    [Fact]
    public void Add_BackendWhoseTrustFileCannotBeLoaded_IsRefusedNamingItsFieldAndNothingIsPostedOrDefined()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}", "ca.pem");
        var backend = new BackendOptions(C) { Tls = new BackendTlsOptions { TrustedCertificatesPath = missing } };

        var refused = Assert.Throws<LoadBalancerOptionsException>(() => _commands.Add(backend));

        Assert.Equal([$"Backend.Tls.TrustedCertificatesPath '{missing}' cannot be loaded: {PemLoadError(missing)}"], refused.Errors);
        Assert.Empty(_posted);
        Assert.Null(_catalog.Find(C));
    }

    [Fact]
    public void Update_NewSet_PostsTheDiffAndDefinesOnlyJoiningBackends()
    {
        var memberA = _catalog.Find(A);
        var memberB = _catalog.Find(B);
        var joining = new BackendOptions(C);

        // A's new options would change how it is reached: a serving member keeps its definition.
        _commands.Update([new BackendOptions(A, weight: 2) { SendProxy = ProxyProtocolVersion.V2 }, joining]);

        Assert.Equal([new ReweightBackend(A, 2), new AddBackend(joining), new RemoveBackend(B)], _posted);
        Assert.Same(memberA, _catalog.Find(A));
        Assert.Same(memberB, _catalog.Find(B));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.3"), 80), _catalog.Find(C)!.EndPoint);
        Assert.Equal([true, true, true], _definedWhenPosted);
    }

    [Fact]
    public void Update_MemberBeingRemovedInTheSet_ResumesItAndDefinesItAgain_AnOperatorsDrainStays()
    {
        _members[0] = _members[0] with { Draining = true, Removing = true };
        _members[1] = _members[1] with { Draining = true };
        var memberA = _catalog.Find(A);
        var memberB = _catalog.Find(B);
        var resumed = new BackendOptions(A) { SendProxy = ProxyProtocolVersion.V1 };

        _commands.Update([resumed, new BackendOptions(B) { SendProxy = ProxyProtocolVersion.V2 }]);

        Assert.Equal([new AddBackend(resumed)], _posted);
        Assert.NotSame(memberA, _catalog.Find(A));
        Assert.Equal(ProxyProtocolVersion.V1, _catalog.Find(A)!.SendProxy);
        Assert.Same(memberB, _catalog.Find(B));
    }

    [Fact]
    public void Update_InvalidSet_ThrowsNamingEachProblemAndPostsNothing()
    {
        var refused = Assert.Throws<LoadBalancerOptionsException>(
            () => _commands.Update([new BackendOptions(A), new BackendOptions("bad"), new BackendOptions(C, weight: -1)]));

        Assert.Equal(["Backends[1].Address 'bad' is not HOST:PORT.", $"Backends[2] '{C}' has weight -1, outside 0-10000."], refused.Errors);
        Assert.Empty(_posted);
        Assert.Null(_catalog.Find(C));
    }

    [Fact]
    public void Follow_InvalidSetThenValidSet_ReportsTheRejectionAndGoesOnFollowing()
    {
        using var sets = new Subject<IReadOnlyList<BackendOptions>>();
        using var following = _commands.Follow(sets);
        var joining = new BackendOptions(C);

        sets.OnNext([new BackendOptions("bad")]);
        sets.OnNext([new BackendOptions(A), new BackendOptions(B), joining]);

        Assert.Equal(2, _posted.Count);
        var rejected = Assert.IsType<MembershipRejected>(Assert.IsType<Reported>(_posted[0]).Event);
        Assert.Equal(["Backends[0].Address 'bad' is not HOST:PORT."], rejected.Errors);
        Assert.Equal(new AddBackend(joining), _posted[1]);
    }

    [Fact]
    public void Follow_SourceFails_ReportsTheDiscoveryFailure()
    {
        using var sets = new Subject<IReadOnlyList<BackendOptions>>();
        using var following = _commands.Follow(sets);

        sets.OnError(new InvalidOperationException("the registry is down"));

        Assert.Equal([new Reported(new DiscoveryFailed("the registry is down"))], _posted);
    }

    [Fact]
    public void Follow_AnEmptySet_IsRefused_TheMembersStay_AndTheMembersAreTheSourcesWhileItIsFollowed()
    {
        using var sets = new Subject<IReadOnlyList<BackendOptions>>();
        var following = _commands.Follow(sets);

        sets.OnNext([]);

        var rejected = Assert.IsType<MembershipRejected>(Assert.IsType<Reported>(Assert.Single(_posted)).Event);
        Assert.Equal(["The discovery source gave an empty set of backends; the members stay as they are."], rejected.Errors);
        Assert.True(_desired.Followed);
        following.Dispose();
        Assert.False(_desired.Followed);
    }

    [Fact]
    public void Follow_Disposed_AppliesNoMoreSets()
    {
        using var sets = new Subject<IReadOnlyList<BackendOptions>>();
        var following = _commands.Follow(sets);

        following.Dispose();
        sets.OnNext([new BackendOptions(C)]);

        Assert.Empty(_posted);
        Assert.False(sets.HasObservers);
    }

    private static BackendDefinition Define(BackendOptions backend)
    {
        var errors = new List<string>();
        var definition = BalancerModel.Define(backend, s_defaultHealthCheck, "Backends[0]", errors);
        Assert.Empty(errors);
        return definition;
    }

    // What loading a missing PEM bundle says, as the runtime words it on this machine.
    private static string PemLoadError(string path)
    {
        var error = Assert.ThrowsAny<IOException>(() => new X509Certificate2Collection().ImportFromPemFile(path));
        return error.Message;
    }
}
