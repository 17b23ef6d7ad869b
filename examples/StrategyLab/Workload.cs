namespace StrategyLab;

/// <summary>
/// Draws arrival gaps, clients and connection durations from one seeded random source, in arrival
/// order, so every strategy faces exactly the same connections at exactly the same times.
/// </summary>
internal sealed class Workload(LabOptions options)
{
    // Pareto with shape 1.5 has a finite mean and an infinite variance: a true heavy tail.
    private const double ParetoShape = 1.5;
    private static readonly TimeSpan s_burstCycle = TimeSpan.FromSeconds(10);

    private readonly Random _random = new(options.Seed);

    /// <summary>The gap before the next arrival, at virtual time <paramref name="now"/>.</summary>
    public TimeSpan NextGap(TimeSpan now)
    {
        var rate = options.Rate;
        if (options.Arrivals == ArrivalProcess.Bursts)
        {
            // The first tenth of every cycle runs at 5.5x the rate, the rest at 0.5x: the same mean.
            var inBurst = now.Ticks % s_burstCycle.Ticks < s_burstCycle.Ticks / 10;
            rate *= inBurst ? 5.5 : 0.5;
        }

        return TimeSpan.FromSeconds(Exponential(1 / rate));
    }

    /// <summary>How long the next connection lasts on a backend of normal speed (drawn when it arrives).</summary>
    public TimeSpan NextDuration()
    {
        var mean = options.MeanDuration.TotalSeconds;
        var seconds = options.Durations switch
        {
            DurationModel.Pareto => mean * (ParetoShape - 1) / ParetoShape / Math.Pow(1 - _random.NextDouble(), 1 / ParetoShape),
            _ => Exponential(mean),
        };
        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>A client drawn from the pool of distinct client addresses.</summary>
    public int NextClient() => _random.Next(options.Clients);

    private double Exponential(double mean) => -mean * Math.Log(1 - _random.NextDouble());
}
