using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Node.Admission;

/// <summary>
/// Verdicts on peers no longer connected, bounded in count (least recently used forgotten first) and in time (each entry
/// lapses at its own deadline): refusals so that a revoked peer that reconnects with the same certificate stays
/// refused, admissions so that a peer still named in routing tables is re-judged when its certificate expires or is
/// revoked while it is away. Sans-I/O: the caller passes the time. Thread-safe.
/// </summary>
/// <remarks>
/// Every peer a node stops talking to (its connection closed when idle) lands here, up to the capacity, so an entry's
/// size counts: one 56-byte struct in an array (the verdict's parts inline, the recency list as slot numbers) and a
/// 24-byte dictionary entry, against ~190 bytes in a dictionary node, a linked-list node, an entry record and a verdict.
/// </remarks>
internal sealed class VerdictMemory(int capacity)
{
    private const int None = -1;
    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, int> _byPeer = [];
    private Slot[] _slots = [];
    private int _used; // slots handed out so far (free ones below it are chained through Next)
    private int _free = None;
    private int _newest = None;
    private int _oldest = None;

    public int Count
    {
        get
        {
            lock (_lock) return _byPeer.Count;
        }
    }

    public void Remember(AdmissionVerdict verdict, ReadOnlyMemory<byte> publicKey, DateTimeOffset until)
    {
        var key = ConnectedPeers.AsArray(publicKey);
        lock (_lock)
        {
            if (_byPeer.Remove(verdict.Peer, out var old)) Release(old);
            while (_byPeer.Count >= capacity && _oldest != None)
            {
                var last = _oldest;
                _byPeer.Remove(_slots[last].Peer);
                Release(last);
            }
            if (capacity <= 0) return;
            var index = Allocate();
            _slots[index] = new Slot
            {
                Peer = verdict.Peer,
                Certificate = verdict.Certificate,
                Reason = verdict.Reason,
                PublicKey = key,
                UntilTicks = until.UtcTicks,
                Status = verdict.Status,
            };
            LinkNewest(index);
            _byPeer[verdict.Peer] = index;
        }
    }

    public Entry? Get(PeerId peer, DateTimeOffset now)
    {
        lock (_lock)
        {
            var index = Find(peer, now);
            return index == None ? null : ToEntry(index);
        }
    }

    /// <summary>The remembered status of <paramref name="peer"/> (null: none), as <see cref="Get"/> without building the entry.</summary>
    public AdmissionStatus? GetStatus(PeerId peer, DateTimeOffset now)
    {
        lock (_lock)
        {
            var index = Find(peer, now);
            return index == None ? null : _slots[index].Status;
        }
    }

    public Entry? Take(PeerId peer, DateTimeOffset now)
    {
        lock (_lock)
        {
            var index = Find(peer, now);
            if (index == None) return null;
            var entry = ToEntry(index);
            _byPeer.Remove(peer);
            Release(index);
            return entry;
        }
    }

    public void Forget(PeerId peer)
    {
        lock (_lock)
        {
            if (_byPeer.Remove(peer, out var index)) Release(index);
        }
    }

    /// <summary>The unexpired entries, most recently used first (expired ones are dropped on the way).</summary>
    public List<Entry> Snapshot(DateTimeOffset now)
    {
        lock (_lock)
        {
            var list = new List<Entry>(_byPeer.Count);
            for (var index = _newest; index != None;)
            {
                var next = _slots[index].Next;
                if (_slots[index].UntilTicks <= now.UtcTicks)
                {
                    _byPeer.Remove(_slots[index].Peer);
                    Release(index);
                }
                else list.Add(ToEntry(index));
                index = next;
            }
            return list;
        }
    }

    /// <summary>The slot of an unexpired entry on <paramref name="peer"/>, now the most recently used; an expired one is dropped.</summary>
    private int Find(PeerId peer, DateTimeOffset now)
    {
        if (!_byPeer.TryGetValue(peer, out var index)) return None;
        if (_slots[index].UntilTicks <= now.UtcTicks)
        {
            _byPeer.Remove(peer);
            Release(index);
            return None;
        }
        if (index != _newest)
        {
            Unlink(index);
            LinkNewest(index);
        }
        return index;
    }

    private Entry ToEntry(int index)
    {
        ref var slot = ref _slots[index];
        return new Entry(new AdmissionVerdict(slot.Peer, slot.Status, slot.Certificate, slot.Reason), slot.PublicKey,
            new DateTimeOffset(slot.UntilTicks, TimeSpan.Zero));
    }

    private int Allocate()
    {
        if (_free != None)
        {
            var index = _free;
            _free = _slots[index].Next;
            return index;
        }
        // Grown by doubling up to the capacity: a node that met few peers holds a small array.
        if (_used == _slots.Length) Array.Resize(ref _slots, Math.Min(Math.Max(8, _slots.Length * 2), Math.Max(capacity, 1)));
        return _used++;
    }

    /// <summary>Unlinks a slot already removed from the dictionary and puts it on the free list (its references cleared).</summary>
    private void Release(int index)
    {
        Unlink(index);
        _slots[index] = new Slot { Next = _free, Prev = None };
        _free = index;
    }

    private void Unlink(int index)
    {
        ref var slot = ref _slots[index];
        if (slot.Prev != None) _slots[slot.Prev].Next = slot.Next;
        else _newest = slot.Next;
        if (slot.Next != None) _slots[slot.Next].Prev = slot.Prev;
        else _oldest = slot.Prev;
        slot.Prev = slot.Next = None;
    }

    private void LinkNewest(int index)
    {
        ref var slot = ref _slots[index];
        slot.Prev = None;
        slot.Next = _newest;
        if (_newest != None) _slots[_newest].Prev = index;
        _newest = index;
        if (_oldest == None) _oldest = index;
    }

    /// <summary>One remembered verdict; Prev/Next chain the recency list (newest first), Next also the free list.</summary>
    private struct Slot
    {
        public PeerId Peer;
        public Certificate? Certificate;
        public string Reason;
        public byte[] PublicKey;
        public long UntilTicks;
        public int Prev;
        public int Next;
        public AdmissionStatus Status;
    }

    internal sealed record Entry(AdmissionVerdict Verdict, ReadOnlyMemory<byte> PublicKey, DateTimeOffset Until);
}
