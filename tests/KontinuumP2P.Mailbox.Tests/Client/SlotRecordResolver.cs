using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Mailbox.Tests.Client;

/// <summary>
/// Slot names to HQ's signed records (the newest wins), resolved as a node's slot resolver does; a PeerId text
/// resolves to that server (as the node's resolver does), while it runs.
/// </summary>
internal sealed class SlotRecordResolver(MailboxFleet fleet) : IMailboxResolver
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SlotRecord> _records = new(StringComparer.Ordinal);

    public void Publish(SlotRecord record)
    {
        lock (_lock)
        {
            if (!_records.TryGetValue(record.Slot, out var old) || old.Sequence < record.Sequence) _records[record.Slot] = record;
        }
    }

    public Task<MailboxEndpoint> ResolveAsync(string slot, CancellationToken cancellationToken) => ResolveAsync(slot, [], cancellationToken);

    public Task<MailboxEndpoint> ResolveAsync(string slot, IReadOnlyCollection<string> usedProviders, CancellationToken cancellationToken)
    {
        PeerId node;
        if (!PeerId.TryParse(slot, out node!))
        {
            SlotRecord? record;
            lock (_lock) _records.TryGetValue(slot, out record);
            if (record is null) throw new MailboxUnavailableException(slot, $"unknown slot {slot}");
            node = record.NodeFor(usedProviders) ?? throw new MailboxUnavailableException(slot, $"no node of {slot} off {string.Join(",", usedProviders)}");
        }
        var s = fleet.Servers.SingleOrDefault(m => m.PeerId.Equals(node)) ?? throw new MailboxUnavailableException(slot, $"no server {node}");
        return Task.FromResult(new MailboxEndpoint(s.PeerId, [s.Address], s.Certificate));
    }
}
