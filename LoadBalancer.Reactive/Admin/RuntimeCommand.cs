namespace LoadBalancer.Reactive.Admin;

/// <summary>One command of the runtime API: its name (one or more words), how to call it, and what it does.</summary>
public sealed class RuntimeCommand
{
    /// <summary>Describes a command.</summary>
    /// <param name="name">The words that call it, such as <c>show instances</c>; matched without regard to case.</param>
    /// <param name="usage">How to call it, for <c>help</c>: <c>set weight ADDR N</c>.</param>
    /// <param name="summary">What it does, in a few words, for <c>help</c>.</param>
    /// <param name="run">
    /// Runs it with the words after its name. It refuses bad arguments with <see cref="RuntimeReply.Error"/>; an
    /// exception it throws is reported as an <c>error:</c> reply too, and never reaches the balancer.
    /// </param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public RuntimeCommand(string name, string usage, string summary, Func<IReadOnlyList<string>, CancellationToken, Task<RuntimeReply>> run)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(run);
        (Name, Usage, Summary, Run) = (name, usage, summary, run);
    }

    /// <summary>The words that call it.</summary>
    public string Name { get; }

    /// <summary>How to call it.</summary>
    public string Usage { get; }

    /// <summary>What it does.</summary>
    public string Summary { get; }

    /// <summary>Runs it with the words after its name.</summary>
    public Func<IReadOnlyList<string>, CancellationToken, Task<RuntimeReply>> Run { get; }
}
