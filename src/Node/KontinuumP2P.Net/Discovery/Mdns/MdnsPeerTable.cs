using System.Net;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Net.Discovery.Mdns;

/// <summary>
/// The peers currently announced on the LAN, bounded in size. Anyone on the LAN can announce any peer id, so records
/// are kept per announcing source (IP address): a source's goodbye removes only its own records, TTLs are capped at
/// <c>maxTtl</c>, and once a connection proves which source announced the real peer (<see cref="Confirm"/>) the other
/// sources' records for that peer are dropped, further ones ignored, and the peer is forgotten when the real source's
/// records expire or it says goodbye — so a forged announcement never outlives the real one.
/// </summary>
internal sealed class MdnsPeerTable(int capacity, TimeSpan maxTtl, int maxSourcesPerPeer = 4)
{
    private readonly Dictionary<PeerId, Entry> _entries = [];

    public int Count => _entries.Count;

    /// <summary>
    /// Merges an announcement received from <paramref name="source"/>. Returns the peer to report when it is new, had
    /// expired, or its addresses changed; null when nothing changed, it was a goodbye, or a bound refused it.
    /// </summary>
    public DiscoveredPeer? Update(MdnsAnnouncement announcement, IPAddress source, DateTimeOffset now, out bool rejectedFull)
    {
        rejectedFull = false;
        _entries.TryGetValue(announcement.PeerId, out var entry);
        if (entry is not null) Prune(entry, now);
        if (entry is { Sources.Count: 0 })
        {
            _entries.Remove(announcement.PeerId);
            entry = null;
        }
        if (entry?.Confirmed is { } confirmed && !confirmed.Equals(source)) return null; // the real peer is known: ignore others
        if (announcement.Ttl <= TimeSpan.Zero)
        {
            if (entry is null) return null;
            entry.Sources.Remove(source);
            if (source.Equals(entry.Confirmed) || entry.Sources.Count == 0) _entries.Remove(announcement.PeerId);
            return null;
        }
        var expires = now + (announcement.Ttl < maxTtl ? announcement.Ttl : maxTtl);
        if (entry is null)
        {
            if (_entries.Count >= capacity) PruneAll(now);
            if (_entries.Count >= capacity)
            {
                rejectedFull = true;
                return null;
            }
            entry = new Entry();
            _entries[announcement.PeerId] = entry;
        }
        else if (!entry.Sources.ContainsKey(source) && entry.Sources.Count >= maxSourcesPerPeer)
        {
            rejectedFull = true;
            return null;
        }
        var before = entry.Sources.Count == 0 ? null : Union(entry);
        entry.Sources[source] = new SourceRecord(announcement.Addresses, expires);
        var after = Union(entry);
        return before is not null && SameAddresses(before, after) ? null : ToPeer(announcement.PeerId, entry, now);
    }

    /// <summary>
    /// Records that a connection to <paramref name="peer"/> succeeded at <paramref name="address"/>: the source that
    /// announced that address becomes the peer's only source. False when no source announced it.
    /// </summary>
    public bool Confirm(PeerId peer, IPAddress address, DateTimeOffset now)
    {
        if (!_entries.TryGetValue(peer, out var entry)) return false;
        Prune(entry, now);
        var real = entry.Sources.FirstOrDefault(s => s.Value.Addresses.Any(a => IpOf(a)?.Equals(address) == true)).Key;
        if (real is null) return false;
        entry.Confirmed = real;
        foreach (var other in entry.Sources.Keys.Where(k => !k.Equals(real)).ToList()) entry.Sources.Remove(other);
        return true;
    }

    public IReadOnlyList<DiscoveredPeer> Snapshot(DateTimeOffset now)
    {
        PruneAll(now);
        return [.. _entries.Select(e => ToPeer(e.Key, e.Value, now))];
    }

    /// <summary>The IP of an address's first component, if it is one.</summary>
    public static IPAddress? IpOf(Multiaddr address) =>
        address.Components.Count > 0 && address.Components[0].Protocol.Kind is ValueKind.IPv4 or ValueKind.IPv6
            ? address.Components[0].AsIPAddress()
            : null;

    private void PruneAll(DateTimeOffset now)
    {
        foreach (var (peer, entry) in _entries.ToList())
        {
            Prune(entry, now);
            if (entry.Sources.Count == 0) _entries.Remove(peer);
        }
    }

    private static void Prune(Entry entry, DateTimeOffset now)
    {
        foreach (var expired in entry.Sources.Where(s => s.Value.Expires <= now).Select(s => s.Key).ToList())
        {
            // The real source is gone: whatever others announced for this peer goes with it.
            if (expired.Equals(entry.Confirmed))
            {
                entry.Sources.Clear();
                return;
            }
            entry.Sources.Remove(expired);
        }
    }

    private static List<Multiaddr> Union(Entry entry) => [.. entry.Sources.Values.SelectMany(s => s.Addresses).Distinct()];

    private static DiscoveredPeer ToPeer(PeerId peer, Entry entry, DateTimeOffset now) =>
        new(peer, Union(entry), DiscoverySource.Mdns, entry.Sources.Values.Max(s => s.Expires) - now);

    private static bool SameAddresses(List<Multiaddr> a, List<Multiaddr> b) => a.Count == b.Count && a.All(b.Contains);

    private sealed record SourceRecord(IReadOnlyList<Multiaddr> Addresses, DateTimeOffset Expires);

    private sealed class Entry
    {
        public Dictionary<IPAddress, SourceRecord> Sources { get; } = [];
        public IPAddress? Confirmed { get; set; }
    }
}
