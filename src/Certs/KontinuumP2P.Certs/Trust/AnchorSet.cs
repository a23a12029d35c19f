using System.Security.Cryptography;
using Google.Protobuf;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Protos;

namespace KontinuumP2P.Certs.Trust;

/// <summary>
/// A versioned set of Tier 0 anchors with separate thresholds for certificates, CRLs and config. Launch uses 1-of-1;
/// production 3-of-5 for certificates and CRLs and 2-of-5 for config. Construction refuses threshold 0, a threshold
/// above the number of keys and a key listed twice, so a key can never count more than once.
/// </summary>
public sealed record AnchorSet
{
    /// <summary>Most anchors in one set.</summary>
    public const int MaxAnchors = 32;

    /// <summary>Creates and validates a set; anchors are kept sorted by key (the canonical order).</summary>
    /// <exception cref="TrustConfigurationException">The set is unusable; the message says why.</exception>
    public AnchorSet(ulong version, IEnumerable<Anchor> anchors, int certThreshold, int crlThreshold, int configThreshold)
    {
        var list = anchors.ToList();
        if (version == 0) throw new TrustConfigurationException("anchor set version must be at least 1");
        if (list.Count == 0) throw new TrustConfigurationException("anchor set has no keys");
        if (list.Count > MaxAnchors) throw new TrustConfigurationException($"anchor set has {list.Count} keys, over {MaxAnchors}");
        foreach (var a in list)
        {
            if (a.PublicKey.Length != 32) throw new TrustConfigurationException($"anchor '{a.Label}' key is {a.PublicKey.Length} bytes, expected 32");
            if (a.Label.Length > 128) throw new TrustConfigurationException($"anchor label '{a.Label[..16]}…' is over 128 characters");
        }
        list.Sort((x, y) => x.PublicKey.Span.SequenceCompareTo(y.PublicKey.Span));
        for (var i = 1; i < list.Count; i++)
        {
            if (list[i].PublicKey.Span.SequenceEqual(list[i - 1].PublicKey.Span))
                throw new TrustConfigurationException($"anchor key {list[i].KeyId} is listed twice ('{list[i - 1].Label}', '{list[i].Label}'); a key counts once");
        }
        Check("certificate", certThreshold, list.Count);
        Check("CRL", crlThreshold, list.Count);
        Check("config", configThreshold, list.Count);
        Version = version;
        Anchors = list;
        CertThreshold = certThreshold;
        CrlThreshold = crlThreshold;
        ConfigThreshold = configThreshold;
    }

    /// <summary>The set's version; a transition moves it to exactly version + 1.</summary>
    public ulong Version { get; }

    /// <summary>The anchors, sorted by public key.</summary>
    public IReadOnlyList<Anchor> Anchors { get; }

    /// <summary>Distinct anchor signatures needed on a certificate.</summary>
    public int CertThreshold { get; }

    /// <summary>Distinct anchor signatures needed on a CRL.</summary>
    public int CrlThreshold { get; }

    /// <summary>Distinct anchor signatures needed on routine config.</summary>
    public int ConfigThreshold { get; }

    /// <summary>Signatures needed, from this set, on a transition: the larger of the certificate and CRL thresholds.</summary>
    public int RotationThreshold => Math.Max(CertThreshold, CrlThreshold);

    /// <summary>The launch configuration: one key, every threshold 1.</summary>
    public static AnchorSet SingleKey(ReadOnlyMemory<byte> publicKey, string label, ulong version = 1) =>
        new(version, [new Anchor(publicKey, label)], 1, 1, 1);

    /// <summary>The canonical encoding (hashed into the next transition).</summary>
    public byte[] Encode()
    {
        var w = new CanonicalWriter();
        Write(w);
        return w.ToArray();
    }

    /// <summary>SHA-256 of <see cref="Encode"/>.</summary>
    public byte[] Hash() => SHA256.HashData(Encode());

    /// <summary>Parses a canonical encoding.</summary>
    /// <exception cref="TrustFormatException">Malformed or non-canonical bytes.</exception>
    /// <exception cref="TrustConfigurationException">Well-formed but unusable set.</exception>
    public static AnchorSet Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > 16 * 1024) throw new TrustFormatException($"anchor set is {bytes.Length} bytes, over 16384");
        AnchorSetProto p;
        try
        {
            p = AnchorSetProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TrustFormatException($"anchor set is not valid protobuf: {e.Message}", e);
        }
        var set = FromProto(p);
        if (!set.Encode().AsSpan().SequenceEqual(bytes)) throw new TrustFormatException("anchor set is not in canonical form");
        return set;
    }

    internal static AnchorSet FromProto(AnchorSetProto p)
    {
        if (p.Anchors.Count > MaxAnchors) throw new TrustFormatException($"anchor set has {p.Anchors.Count} keys, over {MaxAnchors}");
        return new AnchorSet(p.Version, p.Anchors.Select(a => new Anchor(a.PublicKey.ToByteArray(), a.Label)),
            ClampThreshold(p.CertThreshold), ClampThreshold(p.CrlThreshold), ClampThreshold(p.ConfigThreshold));
    }

    internal void Write(CanonicalWriter w)
    {
        w.Varint(1, Version);
        foreach (var a in Anchors)
        {
            w.Message(2, m =>
            {
                m.Bytes(1, a.PublicKey.Span);
                m.String(2, a.Label);
            }, always: true);
        }
        w.Varint(3, (ulong)CertThreshold);
        w.Varint(4, (ulong)CrlThreshold);
        w.Varint(5, (ulong)ConfigThreshold);
    }

    private static int ClampThreshold(uint value) => value > int.MaxValue ? int.MaxValue : (int)value;

    private static void Check(string what, int threshold, int keys)
    {
        if (threshold <= 0) throw new TrustConfigurationException($"{what} threshold {threshold} is refused: it must be at least 1");
        if (threshold > keys) throw new TrustConfigurationException($"{what} threshold {threshold} exceeds the {keys} anchor keys");
    }
}
