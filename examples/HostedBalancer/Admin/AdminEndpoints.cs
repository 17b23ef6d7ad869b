using System.Globalization;
using LoadBalancer.Reactive.Admin;

namespace HostedBalancer.Admin;

/// <summary>
/// The runtime API's commands as HTTP endpoints next to the stats page, answered in JSON by the same command set
/// the Quickstart's <c>--admin</c> socket serves (so the same checks and the same events):
/// <list type="table">
/// <item><term>GET /admin/info</term><description><c>show info</c></description></item>
/// <item><term>GET /admin/backends</term><description><c>show backends</c></description></item>
/// <item><term>GET /admin/connections</term><description><c>show connections</c></description></item>
/// <item><term>POST /admin/backends/{address}/drain|disable|enable</term><description><c>drain</c>, <c>disable</c>, <c>enable</c></description></item>
/// <item><term>POST /admin/backends/{address}/weight <c>{"weight": N}</c></term><description><c>set weight</c></description></item>
/// <item><term>POST /admin/backends <c>{"address": A, "weight": N, "pool": P}</c></term><description><c>add backend</c></description></item>
/// <item><term>DELETE /admin/backends/{address}?closeAfter=30s</term><description><c>remove backend</c></description></item>
/// </list>
/// A refused command answers 400 with <c>{"error": "..."}</c>. A POST must say <c>Content-Type: application/json</c>
/// (415 otherwise): a cross-site form cannot, so another web page open in the same browser cannot drain a backend.
/// Without <c>Stats:AdminToken</c>, only requests addressed to a loopback host name are answered (403 otherwise), so a
/// web page whose name is rebound to 127.0.0.1 (DNS rebinding) cannot reach them either; with it, every request must
/// carry <c>Authorization: Bearer TOKEN</c> (401 otherwise), and the stats page may listen beyond loopback.
/// </summary>
internal static class AdminEndpoints
{
    public static IEndpointRouteBuilder MapRuntimeApi(this IEndpointRouteBuilder endpoints, string? token)
    {
        var admin = endpoints.MapGroup("/admin").AddEndpointFilter(Guard(token)).AddEndpointFilter(JsonPostsOnly);
        admin.MapGet("/info", (RuntimeApi api, CancellationToken aborted) => RunAsync(api, ["show", "info"], aborted));
        admin.MapGet("/backends", (RuntimeApi api, CancellationToken aborted) => RunAsync(api, ["show", "backends"], aborted));
        admin.MapGet("/connections", (RuntimeApi api, CancellationToken aborted) => RunAsync(api, ["show", "connections"], aborted));
        foreach (var change in new[] { "drain", "disable", "enable" })
        {
            admin.MapPost($"/backends/{{address}}/{change}", (string address, RuntimeApi api, CancellationToken aborted) => RunAsync(api, [change, address], aborted));
        }

        admin.MapPost("/backends/{address}/weight", (string address, WeightChange body, RuntimeApi api, CancellationToken aborted) =>
            body.Weight is { } weight
                ? RunAsync(api, ["set", "weight", address, weight.ToString(CultureInfo.InvariantCulture)], aborted)
                : Task.FromResult(Error("'weight' is missing; send {\"weight\": N}")));
        admin.MapPost("/backends", (NewBackend body, RuntimeApi api, CancellationToken aborted) =>
            body.Address is { } address
                ? RunAsync(api, [
                    "add", "backend", address,
                    .. body.Weight is { } weight ? new[] { "weight", weight.ToString(CultureInfo.InvariantCulture) } : [],
                    .. body.Pool is { } pool ? new[] { "pool", pool } : []], aborted)
                : Task.FromResult(Error("'address' is missing; send {\"address\": \"HOST:PORT\", \"weight\": N, \"pool\": P}")));
        admin.MapDelete("/backends/{address}", (string address, string? closeAfter, RuntimeApi api, CancellationToken aborted) =>
            RunAsync(api, ["remove", "backend", address, .. closeAfter is null ? Array.Empty<string>() : ["close-after", closeAfter]], aborted));
        return endpoints;
    }

    private static async Task<IResult> RunAsync(RuntimeApi api, IReadOnlyList<string> words, CancellationToken aborted)
    {
        var reply = await api.ExecuteAsync(words, aborted);
        return Results.Content(reply.Render(RuntimeFormat.Json), "application/json", statusCode: reply.Succeeded ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
    }

    private static IResult Error(string message) =>
        Results.Content(RuntimeReply.Error(message).Render(RuntimeFormat.Json), "application/json", statusCode: StatusCodes.Status400BadRequest);

    /// <summary>Whether <paramref name="url"/> (the stats page's <c>Stats:Url</c>) listens on loopback only.</summary>
    public static bool IsLoopback(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.IsLoopback || IsLoopbackName(uri.Host));

    private static bool IsLoopbackName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address));

    private static Func<EndpointFilterInvocationContext, EndpointFilterDelegate, ValueTask<object?>> Guard(string? token)
    {
        var expected = token is null ? null : System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token));
        return async (context, next) =>
        {
            var request = context.HttpContext.Request;
            if (expected is null)
            {
                return IsLoopbackName(request.Host.Host)
                    ? await next(context)
                    : Refuse(StatusCodes.Status403Forbidden, "the runtime API answers requests to a loopback host only (set Stats:AdminToken to open it)");
            }

            var given = request.Headers.Authorization.ToString() is { } header && header.StartsWith("Bearer ", StringComparison.Ordinal) ? header[7..] : string.Empty;
            var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(given));
            return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(hash, expected)
                ? await next(context)
                : Refuse(StatusCodes.Status401Unauthorized, "the runtime API needs Authorization: Bearer TOKEN (Stats:AdminToken)");
        };
    }

    private static IResult Refuse(int status, string message) =>
        Results.Content(RuntimeReply.Error(message).Render(RuntimeFormat.Json), "application/json", statusCode: status);

    private static async ValueTask<object?> JsonPostsOnly(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var request = context.HttpContext.Request;
        return HttpMethods.IsPost(request.Method) && !request.HasJsonContentType()
            ? Results.Content(
                RuntimeReply.Error("a POST to /admin must be sent as Content-Type: application/json").Render(RuntimeFormat.Json),
                "application/json",
                statusCode: StatusCodes.Status415UnsupportedMediaType)
            : await next(context);
    }

    /// <summary>The body of POST /admin/backends/{address}/weight.</summary>
    internal sealed record WeightChange(int? Weight);

    /// <summary>The body of POST /admin/backends.</summary>
    internal sealed record NewBackend(string? Address, int? Weight, string? Pool);
}
