using System.Diagnostics;
using StrategyLab;

// Compare strategies on a simulated workload: see LabOptions.Usage.
var (options, errors) = LabOptions.Parse(args);
if (options is null)
{
    errors.ToList().ForEach(error => Console.Error.WriteLine($"error: {error}"));
    Console.Error.WriteLine();
    Console.Error.WriteLine(LabOptions.Usage);
    return 2;
}

if (options.ShowHelp)
{
    Console.WriteLine(LabOptions.Usage);
    return 0;
}

if (options.Fleet > 0)
{
    Console.Write(FleetReport.Format(options, FleetReport.RunAll(options)));
    return 0;
}

var simulation = new Simulation(options);
var results = new List<StrategyResult>();
foreach (var strategy in options.Strategies)
{
    // CPU time beside wall time: on a machine shared with other work the wall time says little.
    var allocated = GC.GetAllocatedBytesForCurrentThread();
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    results.Add(simulation.Run(strategy));
    cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
    allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
    Console.Error.WriteLine(
        $"{strategy}: {results[^1].Wall.TotalSeconds:0.00} s wall, {cpu.TotalSeconds:0.00} s CPU, "
        + $"{allocated / (double)options.Connections:N0} bytes allocated per connection");
}

Console.WriteLine();
Console.Write(LabReport.Format(options, results));
return 0;
