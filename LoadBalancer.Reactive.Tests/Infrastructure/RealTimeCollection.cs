namespace LoadBalancer.Reactive.Tests.Infrastructure;

/// <summary>
/// Tests that measure real elapsed time against bounds (a backend marked down within interval × fall)
/// run in this collection, alone, after the parallel tests: on a 2-core machine, the byte-heavy relay
/// tests running beside them can delay a timer or a connect by most of a second.
/// </summary>
[CollectionDefinition(nameof(RealTimeCollection), DisableParallelization = true)]
public sealed class RealTimeCollection;
