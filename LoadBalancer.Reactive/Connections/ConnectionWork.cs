using System.Reactive.Linq;
using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Connections;

/// <summary>
/// What the fold's decisions set going for connections: an assignment becomes a <see cref="ConnectionAttempt"/>,
/// whose inputs flow back into the fold; a rejection or a give-up closes the client; a release (the relay has
/// closed both sides) lets the connection go; an abort (a removed backend's close deadline) resets it.
/// </summary>
internal sealed class ConnectionWork(ConnectionRegistry registry, BackendCatalog backends, AttemptSettings settings)
{
    /// <summary>The work a step sets going, as an observable of the inputs it will produce; null when none.</summary>
    public IObservable<BalancerInput>? For(in Step step)
    {
        IObservable<BalancerInput>? work = null;
        switch (step.Decision)
        {
            case Assignment assignment:
                work = Attempt(assignment);
                break;
            case Rejection or GiveUp:
                registry.Find(step.Decision.ConnectionId)?.CloseClient();
                registry.Remove(step.Decision.ConnectionId);
                break;
            case Release release:
                registry.Remove(release.ConnectionId);
                break;
        }

        foreach (var id in step.Aborts)
        {
            registry.Abort(id);
        }

        List<IObservable<BalancerInput>>? more = null;
        foreach (var placed in step.FromQueue)
        {
            (more ??= []).Add(Attempt(placed));
        }

        // The drain deadline rejects one queued connection per step: fold it again while any still waits.
        if (step.Input is StopDeadlinePassed && !step.State.Queue.IsEmpty)
        {
            (more ??= []).Add(Observable.Return<BalancerInput>(new StopDeadlinePassed { Time = settings.Scheduler.Now }));
        }

        if (more is null)
        {
            return work;
        }

        if (work is not null)
        {
            more.Add(work);
        }

        return more.Count == 1 ? more[0] : more.Merge();
    }

    private IObservable<BalancerInput> Attempt(Assignment assignment)
    {
        // A connection is registered before it arrives and a backend defined before it joins, so neither lookup
        // fails; if one did, the backend's count must not stay up for a connection nobody will relay.
        var connection = registry.Find(assignment.ConnectionId);
        if (connection is null || backends.Find(assignment.Backend.Address) is not { } backend)
        {
            connection?.CloseClient();
            return Observable.Return<BalancerInput>(new ConnectionEnded(assignment.ConnectionId) { Time = settings.Scheduler.Now });
        }

        return new ConnectionAttempt(connection, backend, settings);
    }
}
