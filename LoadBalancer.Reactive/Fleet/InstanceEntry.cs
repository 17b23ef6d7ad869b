using System.Text.Json;

namespace LoadBalancer.Reactive.Fleet;

/// <summary>
/// An instance's registration as stored under <c>PREFIX/instances/NAME</c>:
/// <c>{"name":"lb-1","listen":["10.0.0.1:80"],"activeConnections":3,"totalConnections":120,"updated":"..."}</c>.
/// </summary>
internal static class InstanceEntry
{
    public static string Write(FleetInstance instance)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("name", instance.Name);
            writer.WriteStartArray("listen");
            foreach (var endPoint in instance.Listen)
            {
                writer.WriteStringValue(endPoint);
            }

            writer.WriteEndArray();
            writer.WriteNumber("activeConnections", instance.ActiveConnections);
            writer.WriteNumber("totalConnections", instance.TotalConnections);
            writer.WriteString("updated", instance.Updated);
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads an entry; null when it is not one (another program's key under the prefix).</summary>
    public static FleetInstance? Read(string value)
    {
        try
        {
            using var document = JsonDocument.Parse(value);
            var root = document.RootElement;
            return new FleetInstance(
                root.GetProperty("name").GetString() ?? string.Empty,
                [.. root.GetProperty("listen").EnumerateArray().Select(endPoint => endPoint.GetString() ?? string.Empty)],
                root.GetProperty("activeConnections").GetInt32(),
                root.GetProperty("totalConnections").GetInt64(),
                root.GetProperty("updated").GetDateTimeOffset());
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            return null;
        }
    }
}
