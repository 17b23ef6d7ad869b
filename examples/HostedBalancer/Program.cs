using HostedBalancer;

// A Generic Host (ASP.NET Core's, for the stats page) running a balancer from appsettings.json's
// "LoadBalancer" section, with a live stats page and /metrics on a separate loopback port ("Stats:Url").
// Try it against the Quickstart's demo backends: dotnet run --project examples/Quickstart -- --listen
// 127.0.0.1:8999 (which starts them on 8081-8083), then dotnet run --project examples/HostedBalancer and
// open http://127.0.0.1:8404/.
await using var app = HostedBalancerApp.Build(new() { Args = args });
await app.RunAsync();
