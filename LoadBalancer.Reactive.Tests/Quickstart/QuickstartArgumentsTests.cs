using Quickstart;

namespace LoadBalancer.Reactive.Tests.Quickstart;

public class QuickstartArgumentsTests
{
    [Fact]
    public void Parse_NoArguments_IsDemoModeOnPort8000()
    {
        var (settings, errors) = QuickstartArguments.Parse([]);

        Assert.Empty(errors);
        Assert.NotNull(settings);
        Assert.True(settings.Demo);
        Assert.Equal(["127.0.0.1:8000"], settings.Listen);
        Assert.Equal("least-connections", settings.Strategy);
    }

    [Fact]
    public void Parse_RealBackends_WithWeightsAndListeners()
    {
        var (settings, errors) = QuickstartArguments.Parse(
        [
            "--listen", "0.0.0.0:5432", "--listen", "[::1]:5432",
            "--backend", "10.0.0.5:5432", "--backend", "db-2:5432@3",
            "--strategy", "maglev", "--seed", "42",
        ]);

        Assert.Empty(errors);
        Assert.NotNull(settings);
        Assert.False(settings.Demo);
        Assert.Equal(["0.0.0.0:5432", "[::1]:5432"], settings.Listen);
        Assert.Equal([("10.0.0.5:5432", 1), ("db-2:5432", 3)], settings.Backends.Select(b => (b.Address, b.Weight)));
        Assert.Equal(("maglev", 42), (settings.Strategy, settings.Seed));
    }

    [Fact]
    public void Parse_Help_AsksForUsage()
    {
        var (settings, _) = QuickstartArguments.Parse(["--help"]);

        Assert.True(settings!.ShowHelp);
    }

    [Theory]
    [InlineData(new[] { "--bogus" }, "Unknown option '--bogus'.")]
    [InlineData(new[] { "stray" }, "Unexpected argument 'stray'.")]
    [InlineData(new[] { "--listen" }, "--listen needs a value.")]
    [InlineData(new[] { "--backend", "--listen", "127.0.0.1:1" }, "--backend needs a value.")]
    [InlineData(new[] { "--backend", "10.0.0.1:80@heavy" }, "--backend '10.0.0.1:80@heavy' has weight 'heavy', which is not a whole number.")]
    [InlineData(new[] { "--strategy", "fastest" }, "--strategy 'fastest' is unknown; valid strategies are: least-connections, weighted-least-connections, round-robin, weighted-round-robin, random, power-of-two-choices, source-ip-hash, maglev.")]
    [InlineData(new[] { "--seed", "x" }, "--seed 'x' is not a whole number.")]
    [InlineData(new[] { "--strategy", "least-connections", "--strategy", "least-connections" }, "--strategy is given more than once.")]
    public void Parse_BadArguments_SayWhatIsWrong(string[] args, string expected)
    {
        var (settings, errors) = QuickstartArguments.Parse(args);

        Assert.Null(settings);
        Assert.Contains(expected, errors);
    }

    [Fact]
    public void Parse_SeveralMistakes_ReportsThemAll()
    {
        var (_, errors) = QuickstartArguments.Parse(["--bogus", "--strategy", "nope", "--backend"]);

        Assert.Equal(3, errors.Count);
    }
}
