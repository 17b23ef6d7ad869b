using System.Globalization;
using System.Text;

namespace StrategyLab;

/// <summary>Runs the fleet mode and prints, per strategy, agreement across instances and the flows each change moved.</summary>
internal static class FleetReport
{
    public static IReadOnlyList<FleetResult> RunAll(LabOptions options)
    {
        var simulation = new FleetSimulation(options);
        var results = new List<FleetResult>();
        foreach (var strategy in options.Strategies)
        {
            results.Add(simulation.Run(strategy));
            Console.Error.WriteLine($"{strategy}: {results[^1].Wall.TotalSeconds:0.00} s");
        }

        return results;
    }

    public static string Format(LabOptions options, IReadOnlyList<FleetResult> results)
    {
        var simulation = new FleetSimulation(options);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"A fleet of {options.Fleet} instances, {options.Backends} backends, {options.Clients:N0} clients, "
            + $"{options.Churn} membership changes, seed {options.Seed}.");
        text.AppendLine("Between two changes every client opens one flow through every instance (ECMP), open until the next change.");
        text.AppendLine("agreement: clients for which every instance picks the same backend. moved: flows whose backend changed;");
        text.AppendLine("ideal: 1/M of the M backends in service where the changed one serves; own: its actual share of the flows.");
        text.AppendLine("most/least: the largest and smallest share of the moved flows that a backend in service received.");
        foreach (var result in results)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{result.Strategy}: agreement {Percent(result.InitialAgreement)} at first, {Percent(result.MinAgreement)} at worst");
            var rows = new List<string[]> { new[] { "change", "in service", "moved", "ideal", "own", "most", "least", "agreement" } };
            rows.AddRange(result.Changes.Select(c => new[]
            {
                $"{c.Change.Kind.ToString().ToLowerInvariant()} {simulation.Name(c.Change.Backend)}",
                string.Create(CultureInfo.InvariantCulture, $"{c.InServiceBefore} -> {c.InServiceAfter}"),
                Percent(c.Moved),
                Percent(c.Ideal),
                Percent(c.OwnShare),
                $"{simulation.Name(c.MostReceived.Backend)} {Percent(c.MostReceived.Share)}",
                Percent(c.LeastReceived),
                Percent(c.AgreementAfter),
            }));
            var widths = Enumerable.Range(0, rows[0].Length).Select(column => rows.Max(row => row[column].Length) + 2).ToArray();
            foreach (var row in rows)
            {
                text.Append("  ").Append(row[0].PadRight(widths[0]));
                text.AppendJoin(string.Empty, row.Skip(1).Select((cell, column) => cell.PadLeft(widths[column + 1])));
                text.AppendLine();
            }
        }

        return text.ToString();
    }

    private static string Percent(double share) => share.ToString("0.0%", CultureInfo.InvariantCulture);
}
