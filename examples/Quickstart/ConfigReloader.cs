using System.Reactive;
using System.Reactive.Linq;
using LoadBalancer.Reactive;
using LoadBalancer.Reactive.Configuration;

namespace Quickstart;

/// <summary>
/// Reloads the configuration file when asked (SIGHUP) or when the file changes, and applies what a
/// running balancer can take without dropping a connection: its backends and their weights. A file
/// that does not load changes nothing; a change that needs a restart is reported and left alone.
/// </summary>
internal sealed class ConfigReloader : IDisposable
{
    // Editors write a file in several steps; one reload after they settle.
    private static readonly TimeSpan s_settle = TimeSpan.FromMilliseconds(300);

    private readonly string _path;
    private readonly bool _backendsFromFile;
    private readonly Func<IReadOnlyList<BackendOptions>, IReadOnlyList<BackendOptions>> _withFlags;
    private readonly TcpLoadBalancer _balancer;
    private readonly TextWriter _output;
    private readonly TextWriter _error;
    private readonly FileSystemWatcher _watcher;
    private readonly IDisposable _subscription;
    private readonly Lock _gate = new();
    private FileSettings _applied;
    private string? _lastSeen;

    private ConfigReloader(
        string path, FileSettings loaded, bool backendsFromFile, TcpLoadBalancer balancer,
        IObservable<Unit>? requests, TextWriter output, TextWriter error,
        Func<IReadOnlyList<BackendOptions>, IReadOnlyList<BackendOptions>>? withFlags)
    {
        _withFlags = withFlags ?? (backends => backends);
        _path = Path.GetFullPath(path);
        _applied = loaded;
        _lastSeen = ReadQuietly(_path);
        _backendsFromFile = backendsFromFile;
        _balancer = balancer;
        _output = output;
        _error = error;
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!, Path.GetFileName(_path))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size,
        };
        var fileChanged = Observable.Merge(
                Observable.FromEventPattern<FileSystemEventArgs>(_watcher, nameof(FileSystemWatcher.Changed)).Select(_ => Unit.Default),
                Observable.FromEventPattern<FileSystemEventArgs>(_watcher, nameof(FileSystemWatcher.Created)).Select(_ => Unit.Default),
                Observable.FromEventPattern<RenamedEventArgs>(_watcher, nameof(FileSystemWatcher.Renamed)).Select(_ => Unit.Default))
            .Throttle(s_settle);
        _subscription = fileChanged.Merge(requests ?? Observable.Never<Unit>()).Subscribe(_ => Reload());
        _watcher.EnableRaisingEvents = true;
    }

    public static ConfigReloader Start(
        string path, FileSettings loaded, bool backendsFromFile, TcpLoadBalancer balancer,
        IObservable<Unit>? requests, TextWriter output, TextWriter error,
        Func<IReadOnlyList<BackendOptions>, IReadOnlyList<BackendOptions>>? withFlags = null) =>
        new(path, loaded, backendsFromFile, balancer, requests, output, error, withFlags);

    public void Dispose()
    {
        _subscription.Dispose();
        _watcher.Dispose();
    }

    private void Reload()
    {
        lock (_gate)
        {
            // A signal and the file watcher often both fire for one edit: the same text is read once.
            var text = ReadQuietly(_path);
            if (text is not null && text == _lastSeen)
            {
                return;
            }

            _lastSeen = text;
            var name = Path.GetFileName(_path);
            var (loaded, errors) = ConfigFile.Load(_path);
            if (loaded is null)
            {
                _error.WriteLine($"reload: {name} is invalid; the running configuration stays:");
                errors.ToList().ForEach(problem => _error.WriteLine($"  - {problem}"));
                return;
            }

            if (_backendsFromFile && loaded.Options.Backends.Count == 0)
            {
                _error.WriteLine($"reload: {name} lists no backends; the running configuration stays.");
                return;
            }

            if (_backendsFromFile)
            {
                try
                {
                    _balancer.UpdateBackends(_withFlags(loaded.Options.Backends));
                }
                catch (LoadBalancerOptionsException exception)
                {
                    _error.WriteLine($"reload: {name} has invalid backends; the running configuration stays:");
                    exception.Errors.ToList().ForEach(problem => _error.WriteLine($"  - {problem}"));
                    return;
                }

                _output.WriteLine($"reload: applied {name}: {loaded.Options.Backends.Count} backend(s)");
            }
            else
            {
                _output.WriteLine($"reload: backends come from the command line, so {name} changes none of them");
            }

            var restart = ConfigFile.NeedsRestart(_applied.Options, loaded.Options);
            if (restart.Count > 0)
            {
                _output.WriteLine($"reload: changes to {string.Join(", ", restart)} need a restart and were not applied");
            }

            _applied = loaded;
        }
    }

    private static string? ReadQuietly(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
