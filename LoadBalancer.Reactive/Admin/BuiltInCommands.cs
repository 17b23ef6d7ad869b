using System.Text;
using System.Text.Json.Nodes;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Admin;

/// <summary>The runtime API's own commands: help, the three views, the backend changes, and the session's format and quit.</summary>
internal static class BuiltInCommands
{
    public static IReadOnlyList<RuntimeCommand> For(TcpLoadBalancer balancer, IBackendControl control, Func<IReadOnlyList<RuntimeCommand>> all) =>
    [
        new("help", "help", "list the commands", (arguments, _) => Reply(CommandLine.Expect("help", arguments) ?? Help(all()))),
        new("show info", "show info", "the balancer: name, version, uptime, listeners, strategy, state, totals",
            (arguments, _) => Reply(CommandLine.Expect("show info", arguments) ?? RuntimeViews.Info(balancer))),
        new("show backends", "show backends", "every backend: state, weight, connections, failures, bytes, last change",
            (arguments, _) => Reply(CommandLine.Expect("show backends", arguments) ?? RuntimeViews.Backends(balancer.Statistics))),
        new("show connections", "show connections", "connections open, relayed per backend, queued",
            (arguments, _) => Reply(CommandLine.Expect("show connections", arguments) ?? RuntimeViews.Connections(balancer))),
        Change("drain", "take no new connections; open ones finish", control.DrainAsync, "draining"),
        Change("disable", "maintenance: no new connections, no health probes", control.DisableAsync, "disabled"),
        Change("enable", "back in service after drain or disable", control.EnableAsync, "enabled"),
        new("set weight", "set weight ADDR N", "new connections follow weight N (0-10000)", (arguments, cancellationToken) => SetWeightAsync(control, arguments, cancellationToken)),
        new("add backend", "add backend ADDR [weight N] [pool P]", "a new backend, in service at once", (arguments, cancellationToken) => AddAsync(control, arguments, cancellationToken)),
        new("remove backend", "remove backend ADDR [close-after DURATION]", "drain, then leave; cut what is open after DURATION",
            (arguments, cancellationToken) => RemoveAsync(control, arguments, cancellationToken)),
        new("format", "format text|json", "how this session writes its replies (or start one line with 'json')", (arguments, _) => Reply(Format(arguments))),
        new("quit", "quit", "end this session", (arguments, _) => Reply(CommandLine.Expect("quit", arguments) ?? RuntimeReply.Ok("bye").EndingSession())),
    ];

    private static Task<RuntimeReply> Reply(RuntimeReply reply) => Task.FromResult(reply);

    private static RuntimeCommand Change(string name, string summary, Func<string, CancellationToken, Task> change, string done) =>
        new(name, $"{name} ADDR", summary, async (arguments, cancellationToken) =>
        {
            if (CommandLine.Expect(name, arguments, "ADDR") is { } error)
            {
                return error;
            }

            await change(arguments[0], cancellationToken).ConfigureAwait(false);
            return Done(name, arguments[0], $"{arguments[0]} {done}");
        });

    private static async Task<RuntimeReply> SetWeightAsync(IBackendControl control, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        if (CommandLine.Expect("set weight", arguments, "ADDR", "N") is { } error)
        {
            return error;
        }

        if (!CommandLine.TryParseWeight(arguments[1], out var weight, out var bad))
        {
            return bad!;
        }

        await control.SetWeightAsync(arguments[0], weight, cancellationToken).ConfigureAwait(false);
        return Done("set weight", arguments[0], $"{arguments[0]} weight {weight}", ("weight", weight));
    }

    private static async Task<RuntimeReply> AddAsync(IBackendControl control, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        if (arguments.Count == 0)
        {
            return RuntimeReply.Error("'add backend' needs ADDR; usage: add backend ADDR [weight N] [pool P]");
        }

        var backend = new BackendOptions(arguments[0]);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 1; i < arguments.Count; i += 2)
        {
            var key = arguments[i];
            if (!key.Equals("weight", StringComparison.OrdinalIgnoreCase) && !key.Equals("pool", StringComparison.OrdinalIgnoreCase))
            {
                return RuntimeReply.Error($"'add backend' takes 'weight N' and 'pool P' after ADDR; unexpected '{CommandLine.Quote(key)}'");
            }

            if (i + 1 == arguments.Count)
            {
                return RuntimeReply.Error($"'{key.ToLowerInvariant()}' needs a value; usage: add backend ADDR [weight N] [pool P]");
            }

            if (!seen.Add(key))
            {
                return RuntimeReply.Error($"'{key.ToLowerInvariant()}' is given twice");
            }

            if (key.Equals("pool", StringComparison.OrdinalIgnoreCase))
            {
                backend = backend with { Pool = arguments[i + 1] };
            }
            else if (CommandLine.TryParseWeight(arguments[i + 1], out var weight, out var bad))
            {
                backend = backend with { Weight = weight };
            }
            else
            {
                return bad!;
            }
        }

        await control.AddAsync(backend, cancellationToken).ConfigureAwait(false);
        return Done("add backend", backend.Address, $"{backend.Address} added with weight {backend.Weight}" + (backend.Pool is { } pool ? $" in pool {pool}" : ""),
            ("weight", backend.Weight), ("pool", backend.Pool));
    }

    private static async Task<RuntimeReply> RemoveAsync(IBackendControl control, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        if (arguments.Count is not (1 or 3))
        {
            return arguments.Count == 0
                ? RuntimeReply.Error("'remove backend' needs ADDR; usage: remove backend ADDR [close-after DURATION]")
                : arguments.Count == 2 && arguments[1].Equals("close-after", StringComparison.OrdinalIgnoreCase)
                    ? RuntimeReply.Error("'close-after' needs a duration, such as 30s")
                    : RuntimeReply.Error($"'remove backend' takes ADDR [close-after DURATION]; unexpected '{CommandLine.Quote(arguments[arguments.Count == 2 ? 1 : 3])}'");
        }

        TimeSpan? closeAfter = null;
        if (arguments.Count == 3)
        {
            if (!arguments[1].Equals("close-after", StringComparison.OrdinalIgnoreCase))
            {
                return RuntimeReply.Error($"'remove backend' takes 'close-after DURATION' after ADDR; unexpected '{CommandLine.Quote(arguments[1])}'");
            }

            if (!Durations.TryParse(arguments[2], out var duration, out var problem))
            {
                return RuntimeReply.Error($"close-after '{CommandLine.Quote(arguments[2])}' {problem}");
            }

            closeAfter = duration;
        }

        await control.RemoveAsync(arguments[0], closeAfter, cancellationToken).ConfigureAwait(false);
        return Done("remove backend", arguments[0],
            $"{arguments[0]} removing: drained first" + (closeAfter is { } after ? $", what is open after {Durations.Format(after)} is closed" : ""),
            ("closeAfterSeconds", closeAfter?.TotalSeconds));
    }

    private static RuntimeReply Format(IReadOnlyList<string> arguments)
    {
        if (CommandLine.Expect("format", arguments, "text|json") is { } error)
        {
            return error;
        }

        return Enum.TryParse<RuntimeFormat>(arguments[0], ignoreCase: true, out var format) && !int.TryParse(arguments[0], out _)
            ? RuntimeReply.Ok($"ok: format {format.ToString().ToLowerInvariant()}").Switching(format)
            : RuntimeReply.Error($"format '{CommandLine.Quote(arguments[0])}' is neither text nor json");
    }

    private static RuntimeReply Done(string command, string backend, string text, params (string Key, JsonNode? Value)[] details)
    {
        var data = new JsonObject { ["ok"] = true, ["message"] = "ok: " + text, ["command"] = command, ["backend"] = backend };
        foreach (var (key, value) in details)
        {
            data[key] = value;
        }

        return RuntimeReply.Ok("ok: " + text, data);
    }

    private static RuntimeReply Help(IReadOnlyList<RuntimeCommand> commands)
    {
        var width = commands.Max(command => command.Usage.Length);
        var text = new StringBuilder();
        foreach (var command in commands)
        {
            text.Append(command.Usage.PadRight(width + 2)).AppendLine(command.Summary);
        }

        text.Append("On a socket: one command per line, each reply ends with an empty line; 'json COMMAND' answers one command in JSON;")
            .Append(" with a token, 'auth TOKEN' comes first.");
        var data = new JsonArray([.. commands.Select(command => new JsonObject { ["usage"] = command.Usage, ["summary"] = command.Summary })]);
        return RuntimeReply.Ok(text.ToString(), new JsonObject { ["commands"] = data });
    }
}
