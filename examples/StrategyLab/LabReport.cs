using System.Globalization;
using System.Text;

namespace StrategyLab;

/// <summary>Prints the strategies' results side by side: one row per backend, one column per strategy.</summary>
internal static class LabReport
{
    public static string Format(LabOptions options, IReadOnlyList<StrategyResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"{options.Connections:N0} connections over {options.Backends} backends: {options.Arrivals.ToString().ToLowerInvariant()} arrivals at "
            + $"{options.Rate:N0}/s, {options.Durations.ToString().ToLowerInvariant()} durations averaging "
            + $"{LoadBalancer.Reactive.Configuration.Durations.Format(options.MeanDuration)}, {options.Slow} slow (x{options.SlowFactor}), "
            + $"{options.Failing} failing, seed {options.Seed}.");
        text.AppendLine("Each cell: mean / peak active connections on that backend (time-weighted mean while connections arrive).");
        text.AppendLine();

        var rows = new List<(string Label, string[] Cells)> { ("backend", [.. results.Select(r => r.Strategy)]) };
        for (var b = 0; b < results[0].Backends.Count; b++)
        {
            rows.Add((results[0].Backends[b].Name, [.. results.Select(r =>
                string.Create(CultureInfo.InvariantCulture, $"{r.Backends[b].MeanActive:0.0} / {r.Backends[b].PeakActive}"))]));
        }

        rows.Add(("spread", [.. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Spread:0.0}"))]));
        rows.Add(("highest peak", [.. results.Select(r => r.Backends.Max(b => b.PeakActive).ToString(CultureInfo.InvariantCulture))]));
        rows.Add(("failed", [.. results.Select(r => r.Failed.ToString("N0", CultureInfo.InvariantCulture))]));
        rows.Add(("rejected", [.. results.Select(r => r.Rejected.ToString("N0", CultureInfo.InvariantCulture))]));
        rows.Add(("arrivals for", [.. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Simulated.TotalSeconds:N0} s"))]));
        rows.Add(("wall time", [.. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Wall.TotalSeconds:0.00} s"))]));

        // Each column as wide as its widest cell; rules under the header and above the summary.
        var first = rows.Max(row => row.Label.Length) + 2;
        var widths = Enumerable.Range(0, results.Count).Select(c => rows.Max(row => row.Cells[c].Length) + 2).ToArray();
        var rule = (new string('-', first - 2), widths.Select(w => new string('-', w - 2)).ToArray());
        rows.Insert(1, rule);
        rows.Insert(rows.Count - 6, rule);
        foreach (var (label, cells) in rows)
        {
            text.Append(label.PadRight(first));
            text.AppendJoin(string.Empty, cells.Select((cell, c) => cell.PadLeft(widths[c])));
            text.AppendLine();
        }

        text.AppendLine();
        text.AppendLine("spread: the busiest backend's mean minus the idlest's. failed: connections sent to a failing backend.");
        return text.ToString();
    }
}
