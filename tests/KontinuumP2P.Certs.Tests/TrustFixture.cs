using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Certs.Tests;

/// <summary>Builds anchor keys, sets, certificates and signatures for the trust tests.</summary>
internal static class TrustFixture
{
    public static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Deterministic keys, distinct for every (tag, index): the seed starts with both.</summary>
    public static Ed25519Identity[] Keys(int count, int tag = 0) =>
        [.. Enumerable.Range(0, count).Select(i => Ed25519Identity.FromSeed([(byte)tag, (byte)i, .. Enumerable.Repeat((byte)0x5A, 30)]))];

    public static AnchorSet Set(IEnumerable<Ed25519Identity> keys, int threshold, ulong version = 1, int? configThreshold = null) =>
        new(version, keys.Select((k, i) => new Anchor(k.PublicKey, $"anchor-{i}")), threshold, threshold, configThreshold ?? threshold);

    public static CertificateBody Body(DateTimeOffset? issuedAt = null, TimeSpan? lifetime = null, ulong serial = 1, Ed25519Identity? node = null)
    {
        var nodeKey = node?.PublicKey ?? Enumerable.Range(0, 32).Select(i => (byte)(200 - i)).ToArray();
        var issued = issuedAt ?? Epoch;
        return new CertificateBody
        {
            NodeId = CertificateBody.NodeIdOf(nodeKey),
            NodePublicKey = nodeKey,
            Tier = 1,
            Tenancy = Tenancy.Multi,
            Operator = "org",
            Capabilities = ["mailbox", "dht"],
            Capacity = new NodeCapacity(1UL << 40, 500),
            Provider = "hetzner",
            GeoZone = "eu-west",
            IssuedAt = issued,
            ValidUntil = issued + (lifetime ?? TimeSpan.FromDays(365)),
            Serial = serial,
        };
    }

    public static SignatureEntry Sign(SignedDocument draft, Ed25519Identity key) => new(key.PublicKey, key.Sign(draft.SignedMessage.Span));

    public static Certificate SignedCert(IEnumerable<Ed25519Identity> signers, CertificateBody? body = null)
    {
        var draft = Certs.Certificates.Certificate.Create(body ?? Body());
        return draft.WithSignatures(signers.Select(k => Sign(draft.Document, k)));
    }

    public static IEnumerable<int[]> Subsets(int n, int size)
    {
        for (var mask = 0; mask < 1 << n; mask++)
        {
            if (System.Numerics.BitOperations.PopCount((uint)mask) == size)
                yield return [.. Enumerable.Range(0, n).Where(i => (mask & (1 << i)) != 0)];
        }
    }
}
