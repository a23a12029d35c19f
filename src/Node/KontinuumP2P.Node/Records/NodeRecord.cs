using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Node.Records;

/// <summary>
/// What a node publishes under <c>/node/&lt;peer id&gt;</c>: its Tier 0 certificate, the addresses it can be reached
/// on and a sequence number, signed by the node's own key (the key the certificate names).
/// </summary>
public sealed record NodeRecord
{
    /// <summary>Largest encoded record accepted (design §3).</summary>
    public const int MaxEncodedLength = 8 * 1024;

    /// <summary>Most addresses in one record.</summary>
    public const int MaxAddresses = 32;

    internal NodeRecord(Certificate certificate, IReadOnlyList<Multiaddr> addresses, ulong sequence, ReadOnlyMemory<byte> signature)
    {
        Certificate = certificate;
        Addresses = addresses;
        Sequence = sequence;
        Signature = signature;
    }

    /// <summary>The node's certificate.</summary>
    public Certificate Certificate { get; }

    /// <summary>Where the node listens (without <c>/p2p/</c>).</summary>
    public IReadOnlyList<Multiaddr> Addresses { get; }

    /// <summary>Grows with every new record of the node; the highest wins.</summary>
    public ulong Sequence { get; }

    /// <summary>Ed25519 signature by the certificate's node key over <see cref="NodeRecordCodec.SignedBytes"/>.</summary>
    public ReadOnlyMemory<byte> Signature { get; }

    /// <summary>The node this record describes.</summary>
    public PeerId PeerId => Certificate.Body.PeerId;

    /// <summary>Creates and signs a record with the node's identity, which must be the one the certificate names.</summary>
    /// <exception cref="ArgumentException">The identity is not the certificate's node key, or too many addresses.</exception>
    public static NodeRecord Create(Certificate certificate, IEnumerable<Multiaddr> addresses, ulong sequence, Ed25519Identity identity)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(identity);
        if (!certificate.Body.NodePublicKey.Span.SequenceEqual(identity.PublicKey))
            throw new ArgumentException("the identity is not the node key named by the certificate", nameof(identity));
        var list = addresses.Select(a => a.WithoutPeerId()).Distinct().ToList();
        if (list.Count > MaxAddresses) throw new ArgumentException($"at most {MaxAddresses} addresses", nameof(addresses));
        var signature = identity.Sign(NodeRecordCodec.SignedBytes(certificate, list, sequence));
        return new NodeRecord(certificate, list, sequence, signature);
    }

    /// <summary>Whether the signature is the certificate's node key over this record.</summary>
    public bool HasValidSignature() => Ed25519Identity.Verify(Certificate.Body.NodePublicKey.Span,
        NodeRecordCodec.SignedBytes(Certificate, Addresses, Sequence), Signature.Span);

    /// <summary>The wire form.</summary>
    public byte[] Encode() => NodeRecordCodec.Encode(this);

    /// <summary>Decodes the wire form (signature not checked: see <see cref="HasValidSignature"/>).</summary>
    /// <exception cref="FormatException">Malformed or over <see cref="MaxEncodedLength"/>.</exception>
    public static NodeRecord Decode(ReadOnlySpan<byte> bytes) => NodeRecordCodec.Decode(bytes);
}
