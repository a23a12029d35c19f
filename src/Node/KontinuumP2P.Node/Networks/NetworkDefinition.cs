using System.Security.Cryptography;
using System.Text;
using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;

namespace KontinuumP2P.Node.Networks;

/// <summary>
/// Which network a node joins: its Tier 0 anchors (null for <c>open</c>, a plain libp2p network without admission),
/// its bootstrap peers and the protocol prefix its Kontinuum protocols live under.
/// </summary>
public sealed record NetworkDefinition
{
    /// <summary>Name of the compiled production network.</summary>
    public const string MainnetName = "mainnet";

    /// <summary>Name of the admission-free network used for interop with other libp2p implementations.</summary>
    public const string OpenName = "open";

    /// <summary>The default protocol prefix.</summary>
    public const string DefaultProtocolPrefix = "/kontinuum";

    /// <summary>The network's name.</summary>
    public required string Name { get; init; }

    /// <summary>The Tier 0 anchors; null means no admission (the <c>open</c> network).</summary>
    public AnchorSet? Anchors { get; init; }

    /// <summary>Bootstrap peers (each with <c>/p2p/</c>).</summary>
    public IReadOnlyList<Multiaddr> BootstrapPeers { get; init; } = [];

    /// <summary>Prefix of the Kontinuum protocol ids, e.g. <c>/kontinuum</c>.</summary>
    public string ProtocolPrefix { get; init; } = DefaultProtocolPrefix;

    /// <summary>Whether peers must present a certificate to enter routing tables and be served.</summary>
    public bool AdmissionEnforced => Anchors is not null;

    /// <summary>
    /// The first 16 bytes of SHA-256 over what makes the network itself: its name, protocol prefix and anchor set
    /// (bootstrap peers are left out, they change over a network's life). Null for <c>open</c>. mDNS announces a
    /// Kontinuum network under <c>_p2p-&lt;hex&gt;._udp.local</c>, so two networks on one LAN never discover each other.
    /// </summary>
    public byte[]? GenesisFingerprint => Anchors is null
        ? null
        : SHA256.HashData(Encoding.UTF8.GetBytes($"kontinuum genesis v1\n{Name}\n{ProtocolPrefix}\n{AnchorSetJson.Write(Anchors)}"))[..16];

    /// <summary>The kad protocol id of this network.</summary>
    public string KadProtocolId => $"{ProtocolPrefix}/kad/1.0.0";

    /// <summary>The certificate exchange protocol id of this network.</summary>
    public string CertificateProtocolId => $"{ProtocolPrefix}/cert/1.0.0";

    /// <summary>The open network: no anchors, no admission.</summary>
    public static NetworkDefinition Open { get; } = new() { Name = OpenName };

    /// <summary>
    /// Resolves <c>mainnet</c>, <c>open</c> or the path of a genesis file.
    /// </summary>
    /// <exception cref="NetworkDefinitionException">The name is unknown or the genesis file is unusable.</exception>
    public static NetworkDefinition Resolve(string network)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(network);
        return network switch
        {
            MainnetName => Mainnet.Definition,
            OpenName => Open,
            _ when File.Exists(network) => GenesisFile.Load(network),
            _ => throw new NetworkDefinitionException(
                $"--network '{network}' is neither 'mainnet', 'open' nor an existing genesis file"),
        };
    }
}

/// <summary>A network name or genesis file that cannot be used; the message names the problem.</summary>
public sealed class NetworkDefinitionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NetworkDefinitionException(string message) : base(message) { }

    /// <summary>Creates the exception with its cause.</summary>
    public NetworkDefinitionException(string message, Exception inner) : base(message, inner) { }
}
