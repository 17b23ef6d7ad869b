using System.Reactive;
using System.Reactive.Subjects;
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

// SIGHUP reloads the --config file, as it does for HAProxy and nginx.
using var reloads = new Subject<Unit>();
using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
{
    context.Cancel = true;
    reloads.OnNext(Unit.Default);
});

return await QuickstartApp.RunAsync(args, Console.Out, Console.Error, stop.Token, reloadRequests: reloads);
