using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Client;

namespace KontinuumP2P.Node.Hosting;

public sealed partial class KontinuumNode
{
    /// <summary>
    /// Resolves mailbox slots given as PeerIds through this node's DHT (<c>/node/</c> records, whose certificates the
    /// validator checked), slots pinned in <paramref name="namedSlots"/> to their node, and other slot names through
    /// HQ's <c>/slot/</c> records.
    /// </summary>
    public IMailboxResolver CreateMailboxResolver(IReadOnlyDictionary<string, PeerId>? namedSlots = null) =>
        new SlotMailboxResolver(this, new PeerMailboxResolver(async (peer, cancellationToken) =>
            await ResolveNodeAsync(peer, cancellationToken).ConfigureAwait(false) is { } record
                ? new MailboxEndpoint(record.PeerId, record.Addresses, record.Certificate)
                : null, namedSlots), namedSlots);

    /// <summary>Accepts a mailbox only with a certificate this node's anchors and CRL accept, listing <c>mailbox</c>.</summary>
    public IMailboxVerifier CreateMailboxVerifier() => new CertificateMailboxVerifier(VerifyCertificate);

    /// <summary>A group client for one group directory, using this node's host, DHT and trust anchors.</summary>
    /// <exception cref="InvalidOperationException">The node runs on a simulated transport (no libp2p host).</exception>
    public GroupClient CreateGroupClient(GroupStore store, GroupClientOptions? options = null) =>
        new(store, Host ?? throw new InvalidOperationException("a group client needs the node's libp2p host; this node runs on a simulated transport"),
            CreateMailboxResolver(), CreateMailboxVerifier(), (options ?? new GroupClientOptions()) with
        {
            TimeProvider = _services.TimeProvider,
            LoggerFactory = _services.LoggerFactory,
        });
}
