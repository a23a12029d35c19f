namespace KontinuumP2P.Testing.JsHarness;

/// <summary>How to start a js harness peer (the command-line flags of <c>peer.mjs</c>).</summary>
public sealed record JsPeerOptions
{
    /// <summary>Listen multiaddrs; empty means 127.0.0.1 and ::1 on ephemeral ports.</summary>
    public IReadOnlyList<string> Listen { get; init; } = [];

    /// <summary>Hex of a 32-byte Ed25519 seed for a fixed PeerId; null for a random key.</summary>
    public string? Seed { get; init; }

    /// <summary>Runs kad-dht in server mode.</summary>
    public bool Dht { get; init; }

    /// <summary>The kad protocol id when <see cref="Dht"/> is on (js default <c>/ipfs/kad/1.0.0</c>).</summary>
    public string? KadProtocol { get; init; }

    /// <summary>Runs mDNS discovery.</summary>
    public bool Mdns { get; init; }

    /// <summary>How long the process may take to print its ready line.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Default deadline of one command (passed to js as timeoutMs).</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(30);

    internal IEnumerable<string> ToArguments()
    {
        foreach (var address in Listen)
        {
            yield return "--listen";
            yield return address;
        }
        if (Seed is not null)
        {
            yield return "--seed";
            yield return Seed;
        }
        if (Dht) yield return "--dht";
        if (KadProtocol is not null)
        {
            yield return "--kad-protocol";
            yield return KadProtocol;
        }
        if (Mdns) yield return "--mdns";
    }
}
