using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Devnet;

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
        : this(networkName, CreateKeys(anchors), threshold, time)
    {
    }

    /// <summary>
    /// Uses the given anchor keys (e.g. derived from a simulation seed, or one whose file a devnet layout wrote); the
    /// authority takes ownership and disposes them.
    /// </summary>
    public DevnetAuthority(string networkName, IReadOnlyList<Ed25519Identity> anchorKeys, int threshold, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(anchorKeys);
        ArgumentOutOfRangeException.ThrowIfLessThan(anchorKeys.Count, 1, nameof(anchorKeys));
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(threshold, anchorKeys.Count);
        _time = time;
        _anchorKeys = [.. anchorKeys];
        var set = new AnchorSet(1, _anchorKeys.Select((k, i) => new Anchor(k.PublicKey, $"{networkName}-anchor-{i + 1}")),
            certThreshold: threshold, crlThreshold: threshold, configThreshold: Math.Min(threshold, Math.Max(1, anchorKeys.Count - 1)));
        Network = new NetworkDefinition { Name = networkName, Anchors = set };
    }

    /// <summary>Labels written into issued certificates' <c>provider</c> and <c>geo_zone</c> fields.</summary>
    public string Provider { get; init; } = "devnet";

    /// <summary>The <c>geo_zone</c> of issued certificates.</summary>
    public string GeoZone { get; init; } = "local";

    /// <summary>The network (no bootstrap peers yet: add them with <c>with</c>).</summary>
    public NetworkDefinition Network { get; }

    /// <summary>
    /// Issues a certificate for <paramref name="node"/> signed by the threshold of anchors, naming
    /// <paramref name="provider"/> (default <see cref="Provider"/>; devnet mailboxes sit on distinct providers).
    /// </summary>
    public Certificate IssueCertificate(Ed25519Identity node, TimeSpan validity, IReadOnlyList<string>? capabilities = null, string? provider = null)
    {
        provider ??= Provider;
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
            Provider = provider,
            GeoZone = GeoZone,
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

    private static List<Ed25519Identity> CreateKeys(int anchors)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(anchors, 1);
        return [.. Enumerable.Range(0, anchors).Select(_ => Ed25519Identity.Generate())];
    }

    private IEnumerable<SignatureEntry> Sign(SignedDocument draft, int count) =>
        _anchorKeys.Take(count).Select(k => PartialSignature.Create(draft, k).Signature);
}
