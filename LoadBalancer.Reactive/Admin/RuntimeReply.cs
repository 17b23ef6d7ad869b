using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LoadBalancer.Reactive.Admin;

/// <summary>How the runtime API writes its replies.</summary>
public enum RuntimeFormat
{
    /// <summary>Lines for people (and <c>grep</c>), as HAProxy's stats socket answers.</summary>
    Text,

    /// <summary>One JSON document on one line, for scripts.</summary>
    Json,
}

/// <summary>A runtime API command's answer: text for people and, for scripts, the same as JSON.</summary>
public sealed class RuntimeReply
{
    // Replies go to terminals and scripts, never into HTML: quotes and non-ASCII stay as they are.
    private static readonly JsonSerializerOptions s_json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private RuntimeReply(bool succeeded, string text, JsonNode? data)
    {
        Succeeded = succeeded;
        Text = text;
        Data = data;
    }

    /// <summary>Whether the command did what it was asked; false for an <c>error:</c> reply.</summary>
    public bool Succeeded { get; }

    /// <summary>The reply as text: one or more lines, none of them empty (an empty line ends a reply on the socket).</summary>
    public string Text { get; }

    /// <summary>The reply as JSON; null when a command has nothing more than its text to say.</summary>
    public JsonNode? Data { get; }

    /// <summary>Set by <c>quit</c>: the session on a socket ends after this reply.</summary>
    internal bool EndsSession { get; private init; }

    /// <summary>Set by <c>format</c>: how the session writes its replies from now on.</summary>
    internal RuntimeFormat? SessionFormat { get; private init; }

    /// <summary>This reply, ending the session after it.</summary>
    internal RuntimeReply EndingSession() => new(Succeeded, Text, Data) { EndsSession = true };

    /// <summary>This reply, switching the session to <paramref name="format"/>.</summary>
    internal RuntimeReply Switching(RuntimeFormat format) => new(Succeeded, Text, Data) { SessionFormat = format };

    /// <summary>A reply that reports success.</summary>
    /// <param name="text">What people read.</param>
    /// <param name="data">What scripts read; default <c>{"ok": true, "message": text}</c>.</param>
    public static RuntimeReply Ok(string text, JsonNode? data = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new RuntimeReply(true, text, data ?? new JsonObject { ["ok"] = true, ["message"] = text });
    }

    /// <summary>A reply that reports a refusal; its text reads <c>error: message</c>.</summary>
    /// <param name="message">What is wrong, naming the argument at fault.</param>
    public static RuntimeReply Error(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new RuntimeReply(false, "error: " + message, new JsonObject { ["error"] = message });
    }

    /// <summary>The reply as the session writes it: its text, or its JSON on one line.</summary>
    /// <param name="format">Text or JSON.</param>
    public string Render(RuntimeFormat format) =>
        format == RuntimeFormat.Json && Data is not null ? Data.ToJsonString(s_json) : Text;
}
