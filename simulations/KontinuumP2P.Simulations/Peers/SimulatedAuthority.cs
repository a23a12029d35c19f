using System.Security.Cryptography;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Simulations.Peers;

/// <summary>
/// The Tier 0 of a simulated network: a <see cref="DevnetAuthority"/> whose anchor keys are derived from the scenario
/// seed (so certificates, CRLs and the <c>/crl/&lt;anchor&gt;</c> keys are identical from run to run), issuing real
/// threshold-signed certificates and cumulative CRLs.
/// </summary>
public sealed class SimulatedAuthority : IDisposable
{
    private readonly DevnetAuthority _issuer;
    private readonly HashSet<PeerId> _revoked = [];

    /// <summary>Derives <paramref name="anchors"/> anchor keys from <paramref name="seed"/>; <paramref name="threshold"/> signatures per document.</summary>
    public SimulatedAuthority(long seed, int anchors, int threshold, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(anchors, 1);
        var keys = Enumerable.Range(0, anchors).Select(i => Ed25519Identity.FromSeed(DeriveSeed(seed, "anchor", i))).ToList();
        _issuer = new DevnetAuthority("sim", keys, threshold, time) { Provider = "sim", GeoZone = "sim" };
    }

    /// <summary>The anchor set of the network.</summary>
    public AnchorSet Anchors => _issuer.Network.Anchors!;

    /// <summary>The simulated network's definition (these anchors, default protocol ids).</summary>
    public NetworkDefinition Network => _issuer.Network;

    /// <summary>Nodes revoked by the newest CRL issued.</summary>
    public IReadOnlySet<PeerId> Revoked => _revoked;

    /// <summary>The newest CRL issued, or null.</summary>
    public Crl? NewestCrl { get; private set; }

    /// <summary>A node key derived from the scenario seed and the node number.</summary>
    public static Ed25519Identity NodeIdentity(long seed, int index) => Ed25519Identity.FromSeed(DeriveSeed(seed, "node", index));

    /// <summary>Issues a certificate for <paramref name="node"/> signed by the threshold of anchors.</summary>
    public Certificate IssueCertificate(Ed25519Identity node, TimeSpan validity) => _issuer.IssueCertificate(node, validity);

    /// <summary>Issues the next CRL, revoking <paramref name="newlyRevoked"/> on top of everyone revoked before.</summary>
    public Crl IssueCrl(IEnumerable<PeerId> newlyRevoked, TimeSpan nextUpdate)
    {
        _revoked.UnionWith(newlyRevoked);
        // Sorted so the CRL bytes do not depend on set iteration order.
        NewestCrl = _issuer.IssueCrl(_revoked.OrderBy(p => p.ToString(), StringComparer.Ordinal), nextUpdate);
        return NewestCrl;
    }

    /// <inheritdoc />
    public void Dispose() => _issuer.Dispose();

    private static byte[] DeriveSeed(long seed, string purpose, int index) =>
        SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"kontinuum-sim/{purpose}/{seed}/{index}"));
}
