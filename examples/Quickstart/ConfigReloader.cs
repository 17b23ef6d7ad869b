using System.Reactive;
using System.Reactive.Linq;
using LoadBalancer.Reactive;
using LoadBalancer.Reactive.Configuration;

namespace Quickstart;

/// <summary>
/// Re-reads the configuration when asked (SIGHUP) or when the --config file changes, and applies it to the
/// running balancer. A configuration that does not read or validate changes nothing; what needs a restart is
/// reported by key and left alone.
/// </summary>
internal sealed class ConfigReloader : IDisposable
{
    // Editors write a file in several steps; one reload after they settle.
    private static readonly TimeSpan s_settle = TimeSpan.FromMilliseconds(300);

    private readonly QuickstartConfiguration _configuration;
    private readonly TcpLoadBalancer _balancer;
    private readonly string _name;
    private readonly TextWriter _output;
    private readonly TextWriter _error;
    private readonly FileSystemWatcher? _watcher;
    private readonly IDisposable _subscription;
    private readonly Lock _gate = new();
    private IReadOnlyList<KeyValuePair<string, string?>> _applied;

    private ConfigReloader(
        string? path, QuickstartConfiguration configuration, QuickstartReading running, TcpLoadBalancer balancer,
        IObservable<Unit>? requests, TextWriter output, TextWriter error)
    {
        _configuration = configuration;
        Current = running;
        _applied = configuration.Snapshot();
        _balancer = balancer;
        _output = output;
        _error = error;
        _name = path is null ? "the configuration" : Path.GetFileName(path);
        var fileChanged = Observable.Never<Unit>();
        if (path is not null)
        {
            var full = Path.GetFullPath(path);
            _watcher = new FileSystemWatcher(Path.GetDirectoryName(full)!, Path.GetFileName(full))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size,
            };
            // The typed overloads: events found by name would need reflection, which trimming (Native AOT) cannot keep.
            var watcher = _watcher;
            fileChanged = Observable.Merge(
                    Observable.FromEventPattern<FileSystemEventHandler, FileSystemEventArgs>(h => watcher.Changed += h, h => watcher.Changed -= h).Select(_ => Unit.Default),
                    Observable.FromEventPattern<FileSystemEventHandler, FileSystemEventArgs>(h => watcher.Created += h, h => watcher.Created -= h).Select(_ => Unit.Default),
                    Observable.FromEventPattern<RenamedEventHandler, RenamedEventArgs>(h => watcher.Renamed += h, h => watcher.Renamed -= h).Select(_ => Unit.Default))
                .Throttle(s_settle);
        }

        _subscription = fileChanged.Merge(requests ?? Observable.Never<Unit>()).Subscribe(_ => ReloadOrReport());
        _watcher?.EnableRaisingEvents = true;
    }

    /// <summary>What the running balancer was last given.</summary>
    public QuickstartReading Current { get; private set; }

    public static ConfigReloader Start(
        string? path, QuickstartConfiguration configuration, QuickstartReading running, TcpLoadBalancer balancer,
        IObservable<Unit>? requests, TextWriter output, TextWriter error) =>
        new(path, configuration, running, balancer, requests, output, error);

    public void Dispose()
    {
        _subscription.Dispose();
        _watcher?.Dispose();
    }

    // Runs on a timer or signal thread: nothing may escape it (an exception there would end the process).
    private void ReloadOrReport()
    {
        try
        {
            Reload();
        }
        catch (Exception exception)
        {
            _error.WriteLine($"reload: failed, the running configuration stays: {exception.Message}");
        }
    }

    private void Reload()
    {
        lock (_gate)
        {
            try
            {
                _configuration.Root.Reload();
            }
            catch (Exception exception) when (exception is IOException or InvalidDataException or FormatException or UnauthorizedAccessException)
            {
                _error.WriteLine($"reload: {_name} is invalid; the running configuration stays:");
                _error.WriteLine($"  - {QuickstartConfiguration.Describe(exception)}");
                return;
            }

            // A signal and the file watcher often both fire for one edit: the same configuration is applied once.
            var snapshot = _configuration.Snapshot();
            if (snapshot.SequenceEqual(_applied))
            {
                return;
            }

            var reading = _configuration.Read();
            if (reading.Options is not { } options)
            {
                _error.WriteLine($"reload: {_name} is invalid; the running configuration stays:");
                reading.Errors.ToList().ForEach(problem => _error.WriteLine($"  - {problem}"));
                return;
            }

            IReadOnlyList<string> restart;
            try
            {
                restart = Apply(options, _applied, snapshot);
            }
            catch (LoadBalancerOptionsException exception)
            {
                _error.WriteLine($"reload: {_name} is invalid; the running configuration stays:");
                exception.Errors.ToList().ForEach(problem => _error.WriteLine($"  - {problem}"));
                return;
            }

            _output.WriteLine($"reload: applied {_name}: {options.Backends.Count} backend(s)");
            if (restart.Count > 0)
            {
                _output.WriteLine($"reload: {string.Join(", ", restart)} changed and need(s) a restart; not applied");
            }

            _applied = snapshot;
            Current = reading;
        }
    }

    /// <summary>
    /// The one step that changes the running balancer: everything it can take live is applied, and the keys that
    /// changed but need a restart are returned (the balancer names them). Changes to the Quickstart's own keys
    /// (DrainTimeout, the runtime API) take effect as <see cref="Current"/>, or at the next start for the runtime API.
    /// </summary>
    private IReadOnlyList<string> Apply(
        LoadBalancerOptions options, IReadOnlyList<KeyValuePair<string, string?>> before, IReadOnlyList<KeyValuePair<string, string?>> after) =>
        [.. _balancer.Reconfigure(options), .. ChangedKeys(before, after).Where(key => IsUnder(key, "Admin")).Take(1).Select(_ => "Admin")];

    // Every key whose value differs, was added or was removed; list items as their list (Listen, not Listen:1).
    private static IEnumerable<string> ChangedKeys(IReadOnlyList<KeyValuePair<string, string?>> before, IReadOnlyList<KeyValuePair<string, string?>> after)
    {
        var old = before.ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.OrdinalIgnoreCase);
        var now = after.ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.OrdinalIgnoreCase);
        return old.Keys.Union(now.Keys, StringComparer.OrdinalIgnoreCase)
            .Where(key => old.GetValueOrDefault(key) != now.GetValueOrDefault(key))
            .Select(ListOf)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Order(StringComparer.OrdinalIgnoreCase);
    }

    private static string ListOf(string key)
    {
        var parts = key.Split(':');
        var item = Array.FindIndex(parts, part => int.TryParse(part, out _));
        return item < 0 ? key : string.Join(':', parts[..item]);
    }

    private static bool IsUnder(string key, string section) =>
        key.Equals(section, StringComparison.OrdinalIgnoreCase) || key.StartsWith(section + ":", StringComparison.OrdinalIgnoreCase);
}
