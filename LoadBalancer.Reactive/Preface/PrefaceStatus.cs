namespace LoadBalancer.Reactive.Preface;

/// <summary>How far parsing what a client sends first (a PROXY header, a TLS ClientHello) got with the bytes at hand.</summary>
internal enum PrefaceStatus
{
    /// <summary>Every byte so far fits; more are needed.</summary>
    NeedMore,

    /// <summary>A whole, valid header or message.</summary>
    Parsed,

    /// <summary>Not valid; the connection must be closed.</summary>
    Invalid,
}
