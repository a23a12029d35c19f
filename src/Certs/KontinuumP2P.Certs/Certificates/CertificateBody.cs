using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Certs.Certificates;

/// <summary>Whether a node serves one identity or many.</summary>
public enum Tenancy
{
    /// <summary>Serves one identity (<see cref="CertificateBody.ServedIdentity"/> is set).</summary>
    Single = 1,

    /// <summary>Serves many identities.</summary>
    Multi = 2,
}

/// <summary>A node's advertised capacity.</summary>
/// <param name="StorageBytes">Storage offered, in bytes.</param>
/// <param name="Sessions">Concurrent sessions offered.</param>
public sealed record NodeCapacity(ulong StorageBytes, uint Sessions);

/// <summary>
/// The signed part of a node certificate (design §5). Build it with the constructor, then <see cref="Validate"/> (called
/// by <see cref="Certificate"/>) checks every field; <see cref="CertificateCodec"/> gives its canonical bytes.
/// </summary>
public sealed record CertificateBody
{
    /// <summary>Operators a certificate may name.</summary>
    public static readonly IReadOnlyList<string> Operators = ["org", "partner", "byo:vps", "byo:home"];

    /// <summary>Most capabilities in one certificate.</summary>
    public const int MaxCapabilities = 16;

    /// <summary>Longest capability, provider or geo zone, in characters.</summary>
    public const int MaxLabelLength = 64;

    /// <summary>Longest served identity, in bytes.</summary>
    public const int MaxServedIdentityLength = 64;

    /// <summary>The node's PeerId multihash bytes.</summary>
    public required ReadOnlyMemory<byte> NodeId { get; init; }

    /// <summary>The node's raw 32-byte Ed25519 key, also its Noise/libp2p identity.</summary>
    public required ReadOnlyMemory<byte> NodePublicKey { get; init; }

    /// <summary>Tier 0, 1 or 2.</summary>
    public required int Tier { get; init; }

    /// <summary>Single or multi tenancy.</summary>
    public required Tenancy Tenancy { get; init; }

    /// <summary>One of <see cref="Operators"/>.</summary>
    public required string Operator { get; init; }

    /// <summary>The identity served by a single-tenant node, empty otherwise.</summary>
    public ReadOnlyMemory<byte> ServedIdentity { get; init; }

    /// <summary>Capabilities such as <c>dht</c>, <c>mailbox</c>, <c>archive</c> (kept sorted and distinct).</summary>
    public IReadOnlyList<string> Capabilities { get; init; } = [];

    /// <summary>Offered capacity.</summary>
    public NodeCapacity Capacity { get; init; } = new(0, 0);

    /// <summary>Hosting provider, for provider diversity.</summary>
    public string Provider { get; init; } = "";

    /// <summary>Geographic zone such as <c>eu-west</c>.</summary>
    public string GeoZone { get; init; } = "";

    /// <summary>Start of validity (whole seconds).</summary>
    public required DateTimeOffset IssuedAt { get; init; }

    /// <summary>End of validity (whole seconds, exclusive).</summary>
    public required DateTimeOffset ValidUntil { get; init; }

    /// <summary>Issuer-assigned serial number.</summary>
    public required ulong Serial { get; init; }

    /// <summary>The node id as a PeerId.</summary>
    public PeerId PeerId => PeerId.FromBytes(NodeId.Span);

    /// <summary>The node id of a raw Ed25519 node key (identity multihash of the libp2p encoded key).</summary>
    public static ReadOnlyMemory<byte> NodeIdOf(ReadOnlySpan<byte> nodePublicKey) =>
        PeerId.FromEncodedPublicKey(PublicKeyEncoding.Encode(KeyType.Ed25519, nodePublicKey)).ToByteArray();

    /// <summary>Checks every field.</summary>
    /// <exception cref="TrustFormatException">A field is missing or out of range; the message names it.</exception>
    public void Validate()
    {
        if (NodePublicKey.Length != 32) throw new TrustFormatException($"node_pubkey is {NodePublicKey.Length} bytes, expected 32");
        if (!NodeId.Span.SequenceEqual(NodeIdOf(NodePublicKey.Span).Span))
            throw new TrustFormatException("node_id is not the PeerId of node_pubkey");
        if (Tier is < 0 or > 2) throw new TrustFormatException($"tier {Tier} is not 0, 1 or 2");
        if (!Enum.IsDefined(Tenancy)) throw new TrustFormatException($"tenancy {(int)Tenancy} is not single (1) or multi (2)");
        if (!Operators.Contains(Operator)) throw new TrustFormatException($"operator '{Operator}' is not one of {string.Join(", ", Operators)}");
        if (ServedIdentity.Length > MaxServedIdentityLength)
            throw new TrustFormatException($"served_identity is {ServedIdentity.Length} bytes, over {MaxServedIdentityLength}");
        if (Capabilities.Count > MaxCapabilities) throw new TrustFormatException($"{Capabilities.Count} capabilities, over {MaxCapabilities}");
        foreach (var c in Capabilities) CheckLabel("capability", c, allowEmpty: false);
        CheckLabel("provider", Provider, allowEmpty: true);
        CheckLabel("geo_zone", GeoZone, allowEmpty: true);
        if (IssuedAt.ToUnixTimeSeconds() < 0 || ValidUntil.ToUnixTimeSeconds() > UnixTime.Max)
            throw new TrustFormatException("issued_at or valid_until is outside 1970..9999");
        if (ValidUntil <= IssuedAt) throw new TrustFormatException($"valid_until {ValidUntil:O} is not after issued_at {IssuedAt:O}");
    }

    /// <summary>Checks a short label: lowercase ASCII letters, digits and <c>-_.:</c>.</summary>
    internal static void CheckLabel(string field, string value, bool allowEmpty)
    {
        if (value.Length == 0)
        {
            if (allowEmpty) return;
            throw new TrustFormatException($"{field} is empty");
        }
        if (value.Length > MaxLabelLength) throw new TrustFormatException($"{field} '{value[..16]}…' is longer than {MaxLabelLength} characters");
        foreach (var ch in value)
        {
            if (ch is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.' or ':'))
                throw new TrustFormatException($"{field} '{value}' has character '{ch}' (allowed: a-z 0-9 - _ . :)");
        }
    }
}
