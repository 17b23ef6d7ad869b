using System.Text.Json;
using LoadBalancer.Reactive.Configuration;

namespace LoadBalancer.Reactive.Discovery;

/// <summary>
/// One backend as stored in etcd: a key under the backends prefix whose value is JSON,
/// <c>{"address":"10.0.0.5:8080","weight":1,"state":"active","pool":"web"}</c>. <c>address</c> defaults to the last
/// segment of the key, <c>weight</c> to 1, <c>state</c> (<c>active</c>, <c>drain</c> or <c>disabled</c>) to active, and
/// <c>pool</c> to none.
/// </summary>
internal static class EtcdBackendEntry
{
    /// <summary>Reads a backend from a key and its value, or says what is wrong with it (naming the key).</summary>
    public static bool TryParse(string key, string value, out BackendOptions backend, out string error)
    {
        backend = null!;
        error = string.Empty;
        try
        {
            using var document = JsonDocument.Parse(value);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = $"Key '{key}': the value must be a JSON object.";
                return false;
            }

            // Every property is one this reader knows, of the type it expects: a mistake is reported, never read as a default.
            foreach (var property in root.EnumerateObject())
            {
                var expected = property.Name switch
                {
                    "address" or "state" or "pool" => JsonValueKind.String,
                    "weight" => JsonValueKind.Number,
                    _ => JsonValueKind.Undefined,
                };
                if (expected == JsonValueKind.Undefined)
                {
                    error = $"Key '{key}': '{property.Name}' is not a backend setting; the settings are address, weight, state and pool.";
                    return false;
                }

                if (property.Value.ValueKind != expected)
                {
                    error = $"Key '{key}': {property.Name} must be a {(expected == JsonValueKind.String ? "string" : "number")}.";
                    return false;
                }
            }

            var address = root.TryGetProperty("address", out var a) ? (a.ValueKind == JsonValueKind.String ? a.GetString() : null) : key[(key.LastIndexOf('/') + 1)..];
            var weight = 1;
            if (root.TryGetProperty("weight", out var w) && !(w.ValueKind == JsonValueKind.Number && w.TryGetInt32(out weight)))
            {
                error = $"Key '{key}': weight must be a whole number.";
                return false;
            }

            var stateName = root.TryGetProperty("state", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : "active";
            if (ParseState(stateName) is not { } state)
            {
                error = $"Key '{key}': state '{stateName}' must be active, drain or disabled.";
                return false;
            }

            var pool = root.TryGetProperty("pool", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            var candidate = new BackendOptions { Address = address ?? string.Empty, Weight = weight, State = state, Pool = pool };
            var errors = LoadBalancerOptionsValidator.ValidateBackends([candidate], "backend");
            if (errors.Count > 0)
            {
                // The validator names a list's item ("backend[0]..."); here the key is what the operator must find.
                error = $"Key '{key}': " + string.Join(" ", errors).Replace("backend[0]", "backend", StringComparison.Ordinal);
                return false;
            }

            backend = candidate;
            return true;
        }
        catch (JsonException exception)
        {
            error = $"Key '{key}': the value is not JSON ({exception.Message})";
            return false;
        }
    }

    /// <summary>The value stored for <paramref name="backend"/>.</summary>
    public static string Write(BackendOptions backend)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("address", backend.Address);
            writer.WriteNumber("weight", backend.Weight);
            writer.WriteString("state", StateName(backend.State));
            if (backend.Pool is { Length: > 0 } pool)
            {
                writer.WriteString("pool", pool);
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The word stored for a state: <c>active</c>, <c>drain</c> or <c>disabled</c>.</summary>
    public static string StateName(BackendState state) => state switch
    {
        BackendState.Draining => "drain",
        BackendState.Disabled => "disabled",
        _ => "active",
    };

    private static BackendState? ParseState(string? name) => name?.ToLowerInvariant() switch
    {
        "active" or "ready" => BackendState.Active,
        "drain" or "draining" => BackendState.Draining,
        "disabled" or "maint" => BackendState.Disabled,
        _ => null,
    };
}
