using System.Runtime.InteropServices;
using Quickstart;

// A standalone TCP load balancer in one command. See QuickstartArguments.Usage for the options.
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

return await QuickstartApp.RunAsync(args, Console.Out, Console.Error, stop.Token);
