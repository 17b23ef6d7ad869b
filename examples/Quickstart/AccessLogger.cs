using LoadBalancer.Reactive;
using Microsoft.Extensions.Logging;

namespace Quickstart;

/// <summary>
/// With <c>--access-log</c>: the balancer's access log (a line per finished connection, event ids 40-42) printed
/// beside the event lines, with the same time prefix. Everything else the balancer logs is left to its events.
/// </summary>
internal sealed class AccessLogger(TextWriter output) : ILogger<TcpLoadBalancer>
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel == LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel == LogLevel.Information && eventId.Id is >= 40 and <= 42)
        {
            output.WriteLine($"{DateTime.Now:HH:mm:ss.fff}  access: {formatter(state, exception)}");
        }
    }
}
