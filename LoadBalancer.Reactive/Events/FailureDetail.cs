using System.Net.Sockets;

namespace LoadBalancer.Reactive.Events;

/// <summary>What went wrong with a connect, an accept or a connection, as its events report it.</summary>
/// <param name="Error">The socket error, or <see cref="SocketError.SocketError"/> for anything else.</param>
/// <param name="Message">A sentence naming the backend or listener.</param>
internal sealed record FailureDetail(SocketError Error, string Message);
