using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>Where a mailbox slot lives now, with the certificate that entitles it to serve mailboxes.</summary>
/// <param name="PeerId">The node serving the slot.</param>
/// <param name="Addresses">Where to dial it (may be empty when the host already knows).</param>
/// <param name="Certificate">Its Tier 0 certificate (null only when none could be found: then it is not used).</param>
public sealed record MailboxEndpoint(PeerId PeerId, IReadOnlyList<Multiaddr> Addresses, Certificate? Certificate);

/// <summary>Finds the node of a mailbox slot: a PeerId text resolves to that node; slot names resolve through HQ's
/// <c>/slot/</c> records where a resolver supports them.</summary>
public interface IMailboxResolver
{
    /// <summary>Resolves <paramref name="slot"/>.</summary>
    /// <exception cref="MailboxUnavailableException">Not found now.</exception>
    Task<MailboxEndpoint> ResolveAsync(string slot, CancellationToken cancellationToken);

    /// <summary>
    /// Resolves <paramref name="slot"/> for a group whose other mailboxes are on <paramref name="usedProviders"/>: a
    /// split slot (HQ's answer to a provider loss) gives the node on a provider the group does not use yet. Resolvers
    /// that know no split slots answer as <see cref="ResolveAsync(string, CancellationToken)"/>.
    /// </summary>
    /// <exception cref="MailboxUnavailableException">Not found now, or every node of a split slot is on a used provider.</exception>
    Task<MailboxEndpoint> ResolveAsync(string slot, IReadOnlyCollection<string> usedProviders, CancellationToken cancellationToken) =>
        ResolveAsync(slot, cancellationToken);
}

/// <summary>Decides whether a resolved node may be used as a mailbox.</summary>
public interface IMailboxVerifier
{
    /// <summary>Null when <paramref name="endpoint"/> may serve mailboxes, else why not.</summary>
    string? Check(MailboxEndpoint endpoint);
}

/// <summary>
/// The Tier 0 rule (stronger than 0k-sync's trust on first use): the node must present a certificate for its own
/// PeerId that verifies against the network's anchors (threshold, validity, CRL) and lists the <c>mailbox</c> capability.
/// </summary>
public sealed class CertificateMailboxVerifier : IMailboxVerifier
{
    /// <summary>The capability a mailbox node's certificate must list.</summary>
    public const string MailboxCapability = "mailbox";

    private readonly Func<Certificate, CertificateVerification?> _verify;

    /// <summary>Verifies with a function (e.g. a node's <c>VerifyCertificate</c>, which applies its CRL); a null answer
    /// means the network has no anchors, and such a node is refused.</summary>
    public CertificateMailboxVerifier(Func<Certificate, CertificateVerification?> verify) => _verify = verify ?? throw new ArgumentNullException(nameof(verify));

    /// <summary>Verifies against fixed anchors and an optional revocation source.</summary>
    public CertificateMailboxVerifier(TrustAnchors anchors, Certs.Revocation.IRevocationSource? revocations = null)
        : this(c => anchors.VerifyCertificate(c, revocations))
    {
        ArgumentNullException.ThrowIfNull(anchors);
    }

    /// <inheritdoc />
    public string? Check(MailboxEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint.Certificate is not { } certificate) return $"{endpoint.PeerId} presented no certificate";
        if (!certificate.Body.PeerId.Equals(endpoint.PeerId)) return $"{endpoint.PeerId} presented a certificate for {certificate.Body.PeerId}";
        if (!certificate.Body.Capabilities.Contains(MailboxCapability, StringComparer.Ordinal))
            return $"{endpoint.PeerId}'s certificate lacks the '{MailboxCapability}' capability";
        if (_verify(certificate) is not { } verification) return $"no trust anchors to verify {endpoint.PeerId}'s certificate";
        return verification.IsValid ? null : $"{endpoint.PeerId}'s certificate does not verify ({verification.Status})";
    }
}

/// <summary>Resolves through a lookup function (for example a node's DHT lookup of <c>/node/&lt;id&gt;</c> records)
/// for PeerId slots, and from a fixed table for named slots; a named slot not in the table is unavailable (HQ
/// <c>/slot/</c> records are resolved by HQ-aware resolvers).</summary>
public sealed class PeerMailboxResolver : IMailboxResolver
{
    private readonly Func<PeerId, CancellationToken, Task<MailboxEndpoint?>> _lookup;
    private readonly IReadOnlyDictionary<string, PeerId> _named;

    /// <summary>Creates the resolver.</summary>
    /// <param name="lookup">Finds a node's addresses and certificate, or null.</param>
    /// <param name="namedSlots">Slot names pinned to nodes (optional).</param>
    public PeerMailboxResolver(Func<PeerId, CancellationToken, Task<MailboxEndpoint?>> lookup, IReadOnlyDictionary<string, PeerId>? namedSlots = null)
    {
        _lookup = lookup ?? throw new ArgumentNullException(nameof(lookup));
        _named = namedSlots ?? new Dictionary<string, PeerId>();
    }

    /// <summary>A resolver over a fixed set of endpoints (no network lookups): for embedders that know their mailboxes.</summary>
    public static PeerMailboxResolver Static(IEnumerable<MailboxEndpoint> endpoints, IReadOnlyDictionary<string, PeerId>? namedSlots = null)
    {
        var table = endpoints.ToDictionary(e => e.PeerId);
        return new PeerMailboxResolver((peer, _) => Task.FromResult(table.GetValueOrDefault(peer)), namedSlots);
    }

    /// <inheritdoc />
    public async Task<MailboxEndpoint> ResolveAsync(string slot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(slot);
        PeerId peer;
        if (_named.TryGetValue(slot, out var pinned)) peer = pinned;
        else if (!PeerId.TryParse(slot, out peer!))
            throw new MailboxUnavailableException(slot, $"slot '{slot}' is a name, and this resolver knows no node for it (HQ slot records are not resolved here)");
        var endpoint = await _lookup(peer, cancellationToken).ConfigureAwait(false)
            ?? throw new MailboxUnavailableException(slot, $"no record of {peer} was found");
        if (!endpoint.PeerId.Equals(peer)) throw new MailboxUnavailableException(slot, $"lookup of {peer} answered {endpoint.PeerId}");
        return endpoint;
    }
}

/// <summary>A mailbox could not be reached or used now (its blobs wait in the outbox).</summary>
public sealed class MailboxUnavailableException : IOException
{
    /// <summary>Creates the exception.</summary>
    public MailboxUnavailableException(string slot, string message, Exception? inner = null) : base(message, inner) => Slot = slot;

    /// <summary>Creates the exception.</summary>
    public MailboxUnavailableException() : this("", "mailbox unavailable") { }

    /// <summary>Creates the exception.</summary>
    public MailboxUnavailableException(string message) : this("", message) { }

    /// <summary>Creates the exception.</summary>
    public MailboxUnavailableException(string message, Exception inner) : this("", message, inner) { }

    /// <summary>The slot.</summary>
    public string Slot { get; }
}
