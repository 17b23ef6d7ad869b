using System.Globalization;
using LoadBalancer.Reactive.Balancing.Strategies;

namespace StrategyLab;

/// <summary>How arrivals are spread in time.</summary>
internal enum ArrivalProcess
{
    /// <summary>Independent arrivals at a steady mean rate (exponential gaps).</summary>
    Poisson,

    /// <summary>The same mean rate, but a tenth of the time at 5.5 times it and the rest at half of it.</summary>
    Bursts,
}

/// <summary>How long connections last.</summary>
internal enum DurationModel
{
    /// <summary>Exponential: most short, a few a few times the mean.</summary>
    Exponential,

    /// <summary>Pareto with shape 1.5: the same mean, but a heavy tail of very long connections.</summary>
    Pareto,
}

/// <summary>The lab's workload and what to compare, from the command line.</summary>
internal sealed record LabOptions
{
    public const string Usage = """
        Usage: dotnet run -c Release --project examples/StrategyLab -- [options]

        Simulates a workload in virtual time against the balancer's real fold, once per strategy, and
        prints each backend's mean and peak active connections.

        Options:
          --connections N          connections to simulate (default 200000)
          --backends N             backends (default 10)
          --rate N                 mean arrivals per second (default 1000)
          --arrivals KIND          poisson or bursts (default poisson)
          --durations KIND         exponential or pareto (default exponential)
          --mean-duration D        mean connection duration, like 100ms or 2s (default 100ms)
          --slow N                 how many backends are slow (default 1)
          --slow-factor F          how many times longer their connections last (default 4)
          --failing N              how many backends fail every connection at once (default 1)
          --clients N              distinct client addresses, for the hashing strategies (default 10000)
          --strategies LIST        comma-separated names, or all (default all)
          --seed N                 seeds the workload and the strategies (default 1)
          --fleet N                fleet mode: N instances, each with its own fold, behind ECMP; prints,
                                   per strategy, how many clients all instances agree on and the share
                                   of flows each membership change moves against the ideal 1/M
          --churn K                fleet mode: K membership changes, applied to every instance: a backend
                                   leaves and joins back, another is drained and enabled... (default 4)
          -h, --help               show this help
        """;

    public int Connections { get; init; } = 200_000;

    public int Backends { get; init; } = 10;

    public double Rate { get; init; } = 1_000;

    public ArrivalProcess Arrivals { get; init; } = ArrivalProcess.Poisson;

    public DurationModel Durations { get; init; } = DurationModel.Exponential;

    public TimeSpan MeanDuration { get; init; } = TimeSpan.FromMilliseconds(100);

    public int Slow { get; init; } = 1;

    public double SlowFactor { get; init; } = 4;

    public int Failing { get; init; } = 1;

    public int Clients { get; init; } = 10_000;

    public IReadOnlyList<string> Strategies { get; init; } = LoadBalancingStrategies.All;

    public int Seed { get; init; } = 1;

    /// <summary>Instances of a simulated fleet; 0 (the default) runs the single-balancer workload instead.</summary>
    public int Fleet { get; init; }

    /// <summary>Membership changes applied to every instance of the fleet.</summary>
    public int Churn { get; init; } = 4;

    public bool ShowHelp { get; init; }

    /// <summary>Parses the command line, reporting every mistake at once.</summary>
    public static (LabOptions? Options, IReadOnlyList<string> Errors) Parse(IReadOnlyList<string> args)
    {
        var options = new LabOptions();
        var errors = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name is "-h" or "--help")
            {
                options = options with { ShowHelp = true };
                continue;
            }

            if (i + 1 >= args.Count)
            {
                errors.Add(name.StartsWith("--", StringComparison.Ordinal) ? $"{name} needs a value." : $"Unexpected argument '{name}'.");
                continue;
            }

            var value = args[++i];
            options = name switch
            {
                "--connections" => options with { Connections = Count(name, value, 1, errors) },
                "--backends" => options with { Backends = Count(name, value, 1, errors) },
                "--rate" => options with { Rate = Number(name, value, errors) },
                "--arrivals" => options with { Arrivals = Choice<ArrivalProcess>(name, value, errors) },
                "--durations" => options with { Durations = Choice<DurationModel>(name, value, errors) },
                "--mean-duration" => options with { MeanDuration = Duration(name, value, errors) },
                "--slow" => options with { Slow = Count(name, value, 0, errors) },
                "--slow-factor" => options with { SlowFactor = Number(name, value, errors) },
                "--failing" => options with { Failing = Count(name, value, 0, errors) },
                "--clients" => options with { Clients = Count(name, value, 1, errors) },
                "--strategies" => options with { Strategies = StrategyList(value, errors) },
                "--seed" => options with { Seed = Count(name, value, 0, errors) },
                "--fleet" => options with { Fleet = Count(name, value, 1, errors) },
                "--churn" => options with { Churn = Count(name, value, 0, errors) },
                _ => Unknown(options, name, errors),
            };
        }

        if (options.Slow + options.Failing > options.Backends)
        {
            errors.Add($"--slow {options.Slow} and --failing {options.Failing} add up to more than --backends {options.Backends}.");
        }

        if (options.Fleet > 0 && options.Churn > 0 && options.Backends < 2)
        {
            errors.Add($"--churn {options.Churn} needs at least 2 --backends, so one is left when another leaves.");
        }

        return errors.Count == 0 ? (options, errors) : (null, errors);
    }

    private static LabOptions Unknown(LabOptions options, string name, List<string> errors)
    {
        errors.Add($"Unknown option '{name}'.");
        return options;
    }

    private static int Count(string name, string value, int min, List<string> errors)
    {
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count >= min)
        {
            return count;
        }

        errors.Add($"{name} '{value}' must be a whole number of at least {min}.");
        return min;
    }

    private static double Number(string name, string value, List<string> errors)
    {
        if (double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number) && number > 0)
        {
            return number;
        }

        errors.Add($"{name} '{value}' must be a positive number.");
        return 1;
    }

    private static TimeSpan Duration(string name, string value, List<string> errors)
    {
        if (!LoadBalancer.Reactive.Configuration.Durations.TryParse(value, out var duration, out var error))
        {
            errors.Add($"{name} {error}.");
        }
        else if (duration <= TimeSpan.Zero)
        {
            errors.Add($"{name} must be positive.");
        }

        return duration;
    }

    private static T Choice<T>(string name, string value, List<string> errors)
        where T : struct, Enum
    {
        if (Enum.TryParse<T>(value, ignoreCase: true, out var choice) && Enum.IsDefined(choice))
        {
            return choice;
        }

        errors.Add($"{name} '{value}' must be one of: {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}.");
        return default;
    }

    private static string[] StrategyList(string value, List<string> errors)
    {
        if (value == "all")
        {
            return [.. LoadBalancingStrategies.All];
        }

        var names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var unknown in names.Where(n => !LoadBalancingStrategies.All.Contains(n)))
        {
            errors.Add($"--strategies '{unknown}' is unknown; valid strategies are: {string.Join(", ", LoadBalancingStrategies.All)}.");
        }

        return names;
    }
}
