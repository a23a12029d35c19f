using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Net.Discovery.Mdns;

/// <summary>The peers currently announced on the LAN, each until its record TTL runs out; bounded in size.</summary>
internal sealed class MdnsPeerTable(int capacity)
{
    private readonly Dictionary<PeerId, Entry> _entries = [];

    public int Count => _entries.Count;

    /// <summary>
    /// Merges an announcement. Returns the peer to report when it is new, had expired, or changed addresses; null when
    /// nothing changed, it was a goodbye, or the table is full.
    /// </summary>
    public DiscoveredPeer? Update(MdnsAnnouncement announcement, DateTimeOffset now, out bool rejectedFull)
    {
        rejectedFull = false;
        if (announcement.Ttl <= TimeSpan.Zero)
        {
            _entries.Remove(announcement.PeerId);
            return null;
        }
        var expires = now + announcement.Ttl;
        if (_entries.TryGetValue(announcement.PeerId, out var entry) && entry.Expires > now)
        {
            entry.Expires = expires;
            if (SameAddresses(entry.Addresses, announcement.Addresses)) return null;
            entry.Addresses = announcement.Addresses;
            return ToPeer(announcement.PeerId, entry, now);
        }
        if (entry is null && _entries.Count >= capacity)
        {
            Prune(now);
            if (_entries.Count >= capacity)
            {
                rejectedFull = true;
                return null;
            }
        }
        entry = new Entry { Addresses = announcement.Addresses, Expires = expires };
        _entries[announcement.PeerId] = entry;
        return ToPeer(announcement.PeerId, entry, now);
    }

    public IReadOnlyList<DiscoveredPeer> Snapshot(DateTimeOffset now)
    {
        Prune(now);
        return [.. _entries.Select(e => ToPeer(e.Key, e.Value, now))];
    }

    private void Prune(DateTimeOffset now)
    {
        foreach (var expired in _entries.Where(e => e.Value.Expires <= now).Select(e => e.Key).ToList()) _entries.Remove(expired);
    }

    private static DiscoveredPeer ToPeer(PeerId peer, Entry entry, DateTimeOffset now) =>
        new(peer, entry.Addresses, DiscoverySource.Mdns, entry.Expires - now);

    private static bool SameAddresses(IReadOnlyList<Multiaddr> a, IReadOnlyList<Multiaddr> b) =>
        a.Count == b.Count && a.All(b.Contains);

    private sealed class Entry
    {
        public required IReadOnlyList<Multiaddr> Addresses { get; set; }
        public DateTimeOffset Expires { get; set; }
    }
}
