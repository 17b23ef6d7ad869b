using System.Reactive;
using System.Reactive.Subjects;
using System.Runtime.InteropServices;
using Quickstart;

// A standalone TCP load balancer in one command. See QuickstartArguments.Usage for the options.

// Like HAProxy and nginx, relay on the runtime's socket event threads (one per core) rather than hopping
// through the thread pool: about twice the requests per second on one core (benchmarks/RESULTS.md).
// The runtime reads this once, before the first socket, so it is set first; a value already in the
// environment (0 to turn it off) is kept.
const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
{
    Environment.SetEnvironmentVariable(InlineCompletions, "1");
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

// SIGHUP reloads the --config file, as it does for HAProxy and nginx.
using var reloads = new Subject<Unit>();
using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
{
    context.Cancel = true;
    reloads.OnNext(Unit.Default);
});

return await QuickstartApp.RunAsync(args, Console.Out, Console.Error, stop.Token, reloadRequests: reloads);
