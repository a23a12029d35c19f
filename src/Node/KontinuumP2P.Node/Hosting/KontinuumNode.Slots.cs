using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Node.Hosting;

public sealed partial class KontinuumNode
{
    /// <summary>Puts HQ's signed record of a slot into the DHT; returns how many peers stored it.</summary>
    public Task<int> PublishSlotRecordAsync(SlotRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        return Dht.PutValueAsync(SlotRecord.KeyFor(record.Slot), record.Encode(), cancellationToken);
    }

    /// <summary>
    /// Looks a slot up in the DHT and returns its record with the highest sequence, or null. The DHT's validator has
    /// checked HQ's certificate (<c>hq</c> capability, anchors, CRL) and signature.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="slot"/> is not a slot name.</exception>
    public async Task<SlotRecord?> ResolveSlotAsync(string slot, CancellationToken cancellationToken)
    {
        SlotRecord.CheckSlotName(slot);
        SlotRecord? best = null;
        await foreach (var value in Dht.GetValueAsync(SlotRecord.KeyFor(slot), cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var record = SlotRecord.Decode(value.Record.Value.Span);
            if (best is null || record.Sequence > best.Sequence) best = record;
        }
        return best;
    }

    /// <summary>
    /// Resolves slot names (not PeerIds, not pinned) through HQ's <c>/slot/</c> records, then the named node through its
    /// <c>/node/</c> record; everything else as the inner resolver does. A replaced mailbox is followed on the next
    /// resolution (the group client resolves again after a failure and every 60 s); of a split slot, the node whose
    /// provider the group's other mailboxes do not use.
    /// </summary>
    private sealed class SlotMailboxResolver(KontinuumNode node, IMailboxResolver inner, IReadOnlyDictionary<string, PeerId>? pinned) : IMailboxResolver
    {
        public Task<MailboxEndpoint> ResolveAsync(string slot, CancellationToken cancellationToken) => ResolveAsync(slot, [], cancellationToken);

        public async Task<MailboxEndpoint> ResolveAsync(string slot, IReadOnlyCollection<string> usedProviders, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(slot);
            ArgumentNullException.ThrowIfNull(usedProviders);
            if (pinned?.ContainsKey(slot) == true || PeerId.TryParse(slot, out _) || !SlotRecord.IsValidSlotName(slot))
                return await inner.ResolveAsync(slot, cancellationToken).ConfigureAwait(false);
            var record = await node.ResolveSlotAsync(slot, cancellationToken).ConfigureAwait(false)
                ?? throw new MailboxUnavailableException(slot, $"no /slot/{slot} record was found");
            // A split slot: the node on a provider the group does not use yet (diversity is hard, so none fits = unavailable).
            var chosen = record.NodeFor(usedProviders)
                ?? throw new MailboxUnavailableException(slot, $"split slot {slot} has no node off the group's providers ({string.Join(", ", usedProviders)})");
            var nodeRecord = await node.ResolveNodeAsync(chosen, cancellationToken).ConfigureAwait(false)
                ?? throw new MailboxUnavailableException(slot, $"slot {slot} names {chosen}, whose record was not found");
            return new MailboxEndpoint(nodeRecord.PeerId, nodeRecord.Addresses, nodeRecord.Certificate);
        }
    }
}
