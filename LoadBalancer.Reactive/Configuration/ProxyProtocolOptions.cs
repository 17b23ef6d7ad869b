namespace LoadBalancer.Reactive.Configuration;

/// <summary>Which PROXY protocol header a backend is sent, if any.</summary>
public enum ProxyProtocolVersion
{
    /// <summary>No header: the backend sees the balancer as the client.</summary>
    None,

    /// <summary>Version 1, one line of text (<c>PROXY TCP4 192.0.2.1 198.51.100.1 40000 443</c>).</summary>
    V1,

    /// <summary>Version 2, binary.</summary>
    V2,
}

/// <summary>Accepting PROXY protocol headers from another balancer or proxy in front of this one.</summary>
public sealed record AcceptProxyOptions
{
    /// <summary>
    /// Networks (CIDR) whose connections must start with a PROXY header, v1 or v2; connections from anywhere
    /// else are taken as they are, so a client cannot claim another address by sending a header itself.
    /// A trusted connection without a valid header is closed. Empty (the default) turns this off.
    /// </summary>
    public IReadOnlyList<string> From { get; init; } = [];

    /// <summary>How long a trusted connection may take to send its whole header. Default: 5 seconds.</summary>
    public TimeSpan HeaderTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
