using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using LoadBalancer.Reactive.Admin;

namespace LoadBalancer.Reactive.Fleet;

/// <summary>The runtime API's view of a fleet: its live instances, as a table or as JSON.</summary>
internal static class FleetViews
{
    public static RuntimeReply Instances(IReadOnlyList<FleetInstance> instances, string self)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{instances.Count} live instance(s); this one is {self}");
        foreach (var instance in instances)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{instance.Name}{(instance.Name == self ? " *" : string.Empty)}  listen {string.Join(",", instance.Listen)}  active {instance.ActiveConnections}  total {instance.TotalConnections}  updated {instance.Updated:O}");
        }

        var json = new JsonArray([.. instances.Select(instance => (JsonNode)new JsonObject
        {
            ["name"] = instance.Name,
            ["self"] = instance.Name == self,
            ["listen"] = new JsonArray([.. instance.Listen.Select(endPoint => (JsonNode)endPoint)]),
            ["active"] = instance.ActiveConnections,
            ["total"] = instance.TotalConnections,
            ["updated"] = instance.Updated,
        })]);
        return RuntimeReply.Ok(text.ToString().TrimEnd(), new JsonObject { ["self"] = self, ["instances"] = json });
    }
}
