namespace KontinuumP2P.Certs.Encoding;

/// <summary>The kinds of signed trust documents. Each has its own domain-separation prefix.</summary>
public enum DocumentKind
{
    /// <summary>A node certificate.</summary>
    Certificate = 1,

    /// <summary>A certificate revocation list.</summary>
    Crl = 2,

    /// <summary>An anchor-set transition (Tier 0 key rotation).</summary>
    Transition = 3,
}

/// <summary>Domain-separation prefixes signed before each body, so a signature for one kind never verifies as another.</summary>
public static class DomainPrefix
{
    private static readonly byte[] CertificatePrefix = "kontinuum-cert-v1\0"u8.ToArray();
    private static readonly byte[] CrlPrefix = "kontinuum-crl-v1\0"u8.ToArray();
    private static readonly byte[] TransitionPrefix = "kontinuum-anchors-v1\0"u8.ToArray();

    /// <summary>The prefix of <paramref name="kind"/>.</summary>
    public static ReadOnlySpan<byte> For(DocumentKind kind) => kind switch
    {
        DocumentKind.Certificate => CertificatePrefix,
        DocumentKind.Crl => CrlPrefix,
        DocumentKind.Transition => TransitionPrefix,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown document kind"),
    };

    /// <summary>The exact bytes signed for a body: prefix followed by the canonical body.</summary>
    public static byte[] SignedMessage(DocumentKind kind, ReadOnlySpan<byte> body)
    {
        var prefix = For(kind);
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message);
        body.CopyTo(message.AsSpan(prefix.Length));
        return message;
    }
}
