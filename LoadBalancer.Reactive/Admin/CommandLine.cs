using System.Globalization;
using System.Text;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Admin;

/// <summary>How the runtime API reads a command line and its arguments, and quotes what it echoes back.</summary>
internal static class CommandLine
{
    private const int MaxEcho = 64;

    /// <summary>The words of a line, split on spaces and tabs.</summary>
    public static IReadOnlyList<string> Split(string line) =>
        line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// Checks that <paramref name="arguments"/> holds exactly the <paramref name="names"/> a command takes;
    /// the error names the missing one, or the first one too many.
    /// </summary>
    public static RuntimeReply? Expect(string command, IReadOnlyList<string> arguments, params string[] names)
    {
        if (arguments.Count < names.Length)
        {
            return RuntimeReply.Error($"'{command}' needs {names[arguments.Count]}; usage: {command} {string.Join(' ', names)}");
        }

        return arguments.Count > names.Length
            ? RuntimeReply.Error($"'{command}' takes {names.Length switch { 0 => "no arguments", 1 => "one argument", _ => $"{names.Length} arguments" }}; " +
                $"unexpected '{Quote(arguments[names.Length])}'")
            : null;
    }

    /// <summary>Reads a weight, 0 to the most a backend may have; or the error that names it.</summary>
    public static bool TryParseWeight(string text, out int weight, out RuntimeReply? error)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out weight)
            && weight <= LoadBalancerOptionsValidator.MaxWeight)
        {
            error = null;
            return true;
        }

        error = RuntimeReply.Error($"weight '{Quote(text)}' is not a whole number from 0 to {LoadBalancerOptionsValidator.MaxWeight}");
        return false;
    }

    /// <summary>An argument as an error message repeats it: control characters shown as '?', at most 64 characters.</summary>
    public static string Quote(string text)
    {
        var shown = new StringBuilder(Math.Min(text.Length, MaxEcho));
        foreach (var c in text.Take(MaxEcho))
        {
            shown.Append(char.IsControl(c) ? '?' : c);
        }

        return text.Length > MaxEcho ? shown.Append("...").ToString() : shown.ToString();
    }

    /// <summary>An argument exception's message without the " (Parameter 'x')" that .NET appends.</summary>
    public static string MessageOf(ArgumentException exception)
    {
        var message = exception.Message;
        var suffix = exception.ParamName is null ? null : $" (Parameter '{exception.ParamName}')";
        var end = suffix is null ? -1 : message.IndexOf(suffix, StringComparison.Ordinal);
        return (end >= 0 ? message[..end] : message).TrimEnd('.');
    }
}
