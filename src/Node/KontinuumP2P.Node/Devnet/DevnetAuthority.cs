using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Node.Devnet;

/// <summary>
/// The Tier 0 side of a local development network: freshly generated anchor keys held in memory, a genesis, and
/// certificate and CRL issuance at the anchors' threshold. For devnets and tests only — a real network's anchor keys
/// never sit in one process (see docs/trust.md for the ceremony).
/// </summary>
public sealed class DevnetAuthority : IDisposable
{
    private readonly List<Ed25519Identity> _anchorKeys;
    private readonly TimeProvider _time;
    private ulong _nextSerial = 1;
    private ulong _nextCrlNumber = 1;

    /// <summary>Generates <paramref name="anchors"/> anchor keys with <paramref name="threshold"/> for certificates and CRLs.</summary>
    public DevnetAuthority(string networkName, int anchors, int threshold, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(anchors, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(threshold, anchors);
        _time = time;
        _anchorKeys = [.. Enumerable.Range(0, anchors).Select(_ => Ed25519Identity.Generate())];
        var set = new AnchorSet(1, _anchorKeys.Select((k, i) => new Anchor(k.PublicKey, $"devnet-anchor-{i + 1}")),
            certThreshold: threshold, crlThreshold: threshold, configThreshold: Math.Min(threshold, Math.Max(1, anchors - 1)));
        Network = new NetworkDefinition { Name = networkName, Anchors = set };
    }

    /// <summary>The network (no bootstrap peers yet: add them with <c>with</c>).</summary>
    public NetworkDefinition Network { get; }

    /// <summary>Issues a certificate for <paramref name="node"/> signed by the threshold of anchors.</summary>
    public Certificate IssueCertificate(Ed25519Identity node, TimeSpan validity, IReadOnlyList<string>? capabilities = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        var now = DateTimeOffset.FromUnixTimeSeconds(_time.GetUtcNow().ToUnixTimeSeconds());
        var body = new CertificateBody
        {
            NodeId = node.PeerId.ToByteArray(),
            NodePublicKey = node.PublicKey,
            Tier = 2,
            Tenancy = Tenancy.Multi,
            Operator = "org",
            Capabilities = capabilities ?? ["dht"],
            Provider = "devnet",
            GeoZone = "local",
            IssuedAt = now,
            ValidUntil = now + validity,
            Serial = _nextSerial++,
        };
        var draft = Certificate.Create(body);
        return draft.WithSignatures(Sign(draft.Document, Network.Anchors!.CertThreshold));
    }

    /// <summary>Issues the next CRL revoking <paramref name="revokedNodes"/>, valid until now + <paramref name="nextUpdate"/>.</summary>
    public Crl IssueCrl(IEnumerable<PeerId> revokedNodes, TimeSpan nextUpdate)
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(_time.GetUtcNow().ToUnixTimeSeconds());
        var body = new CrlBody(_nextCrlNumber++, now, now + nextUpdate,
            [.. revokedNodes.Select(p => new RevokedNode(p.ToByteArray(), RevocationReason.Unspecified, now))], [], Network.Anchors!.Version);
        var draft = Crl.Create(body);
        return draft.WithSignatures(Sign(draft.Document, Network.Anchors.CrlThreshold));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var key in _anchorKeys) key.Dispose();
    }

    private IEnumerable<SignatureEntry> Sign(SignedDocument draft, int count) =>
        _anchorKeys.Take(count).Select(k => PartialSignature.Create(draft, k).Signature);
}
