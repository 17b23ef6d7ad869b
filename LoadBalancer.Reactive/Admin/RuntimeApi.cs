using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Admin;

/// <summary>
/// The runtime API of a balancer, as HAProxy's stats socket and Envoy's admin: commands that show its state
/// (<c>show info</c>, <c>show backends</c>, <c>show connections</c>) and change its backends (<c>drain</c>,
/// <c>disable</c>, <c>enable</c>, <c>set weight</c>, <c>add backend</c>, <c>remove backend</c>). Hosts expose
/// it: <see cref="RuntimeApiListener"/> on a Unix or loopback socket, or their own HTTP endpoints.
/// </summary>
/// <remarks>
/// Reads come from the balancer's <see cref="TcpLoadBalancer.Snapshot"/> and <see cref="TcpLoadBalancer.Statistics"/>;
/// changes go through an <see cref="IBackendControl"/> (by default the balancer's own calls, so every change is an
/// input to its fold and an event on <see cref="TcpLoadBalancer.Events"/>). A bad command or argument gets an
/// <c>error:</c> reply naming what is at fault and changes nothing. Safe to call from several threads at once.
/// </remarks>
public sealed class RuntimeApi
{
    private readonly Lock _gate = new();
    private IReadOnlyList<RuntimeCommand> _commands;

    /// <summary>Creates the command set for <paramref name="balancer"/>.</summary>
    /// <param name="balancer">The balancer to show and change.</param>
    /// <param name="control">Where backend changes go; default: <paramref name="balancer"/>'s own calls.</param>
    /// <exception cref="ArgumentNullException"><paramref name="balancer"/> is null.</exception>
    public RuntimeApi(TcpLoadBalancer balancer, IBackendControl? control = null)
    {
        ArgumentNullException.ThrowIfNull(balancer);
        Control = control ?? new LocalBackendControl(balancer);
        _commands = BuiltInCommands.For(balancer, Control, () => Commands);
    }

    /// <summary>Where the backend changes go.</summary>
    public IBackendControl Control { get; }

    /// <summary>Every command, in the order <c>help</c> lists them.</summary>
    public IReadOnlyList<RuntimeCommand> Commands
    {
        get
        {
            lock (_gate)
            {
                return _commands;
            }
        }
    }

    /// <summary>Adds a command of the host's own (such as <c>show instances</c>); <c>help</c> lists it too.</summary>
    /// <param name="command">The command.</param>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is null.</exception>
    /// <exception cref="ArgumentException">Its name is empty or already taken; the message names it.</exception>
    public void AddCommand(RuntimeCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var name = CommandLine.Split(command.Name);
        if (name.Count == 0)
        {
            throw new ArgumentException("A command needs a name.", nameof(command));
        }

        lock (_gate)
        {
            if (_commands.Any(existing => CommandLine.Split(existing.Name).SequenceEqual(name, StringComparer.OrdinalIgnoreCase)))
            {
                throw new ArgumentException($"A command named '{command.Name}' already exists.", nameof(command));
            }

            _commands = [.. _commands, command];
        }
    }

    /// <summary>Runs one command line, such as <c>set weight 10.0.0.5:80 3</c>; words are separated by spaces.</summary>
    /// <param name="line">The command and its arguments.</param>
    /// <param name="cancellationToken">Cancels a command that waits (a fleet's control, say).</param>
    /// <returns>The reply; an <c>error:</c> one for a bad command or argument.</returns>
    public Task<RuntimeReply> ExecuteAsync(string line, CancellationToken cancellationToken = default) =>
        ExecuteAsync(CommandLine.Split(line ?? string.Empty), cancellationToken);

    /// <summary>Runs one command given as words (no quoting or splitting needed: an HTTP endpoint's path parts, say).</summary>
    /// <param name="words">The command's words, then its arguments.</param>
    /// <param name="cancellationToken">Cancels a command that waits (a fleet's control, say).</param>
    /// <returns>The reply; an <c>error:</c> one for a bad command or argument.</returns>
    public async Task<RuntimeReply> ExecuteAsync(IReadOnlyList<string> words, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(words);
        if (words.Count == 0)
        {
            return RuntimeReply.Error("no command given; try 'help'");
        }

        var commands = Commands;
        var (command, length) = commands
            .Select(candidate => (Command: candidate, Name: CommandLine.Split(candidate.Name)))
            .Where(candidate => candidate.Name.Count <= words.Count
                && candidate.Name.SequenceEqual(words.Take(candidate.Name.Count), StringComparer.OrdinalIgnoreCase))
            .Select(candidate => (candidate.Command, candidate.Name.Count))
            .OrderByDescending(candidate => candidate.Count)
            .FirstOrDefault();
        if (command is null)
        {
            return Unknown(commands, words);
        }

        try
        {
            return await command.Run([.. words.Skip(length)], cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (LoadBalancerOptionsException exception)
        {
            return RuntimeReply.Error(string.Join("; ", exception.Errors));
        }
        catch (ArgumentException exception)
        {
            return RuntimeReply.Error(CommandLine.MessageOf(exception));
        }
        catch (Exception exception)
        {
            // A command of the host's own that fails says so; nothing it throws reaches the balancer.
            return RuntimeReply.Error($"'{command.Name}' failed: {exception.Message}");
        }
    }

    private static RuntimeReply Unknown(IReadOnlyList<RuntimeCommand> commands, IReadOnlyList<string> words)
    {
        var group = commands
            .Select(command => CommandLine.Split(command.Name))
            .Where(name => name.Count > 1 && string.Equals(name[0], words[0], StringComparison.OrdinalIgnoreCase))
            .Select(name => name[1])
            .ToList();
        return group.Count == 0
            ? RuntimeReply.Error($"unknown command '{CommandLine.Quote(words[0])}'; try 'help'")
            : words.Count == 1
                ? RuntimeReply.Error($"'{CommandLine.Quote(words[0])}' needs one of: {string.Join(", ", group)}")
                : RuntimeReply.Error($"unknown command '{CommandLine.Quote(words[0])} {CommandLine.Quote(words[1])}'; '{CommandLine.Quote(words[0])}' takes one of: {string.Join(", ", group)}");
    }
}
