using KontinuumP2P.Certs.Trust;

namespace KontinuumP2P.Node.Networks;

/// <summary>
/// The compiled production network. PLACEHOLDERS until the real Tier 0 ceremony: the single anchor key below is a
/// nothing-up-my-sleeve value (the first 32 bytes of SHA-512 of a fixed phrase) whose private key nobody knows, so
/// mainnet admits no node and accepts no CRL until a release compiles the ceremony's real keys and bootstrap peers.
/// </summary>
public static class Mainnet
{
    /// <summary>The phrase the placeholder anchor key is derived from.</summary>
    public const string PlaceholderPhrase = "kontinuum mainnet placeholder anchor: replace after the tier 0 ceremony";

    /// <summary>The mainnet definition (placeholder anchors, no bootstrap peers yet).</summary>
    public static NetworkDefinition Definition { get; } = new()
    {
        Name = NetworkDefinition.MainnetName,
        Anchors = new AnchorSet(1,
            [new Anchor(System.Security.Cryptography.SHA512.HashData(System.Text.Encoding.UTF8.GetBytes(PlaceholderPhrase))[..32], "placeholder")],
            certThreshold: 1, crlThreshold: 1, configThreshold: 1),
        BootstrapPeers = [],
    };
}
