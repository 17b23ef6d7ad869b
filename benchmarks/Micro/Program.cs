using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Micro -- --filter '*'   (or pick one: --filter '*Strategy*')
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
