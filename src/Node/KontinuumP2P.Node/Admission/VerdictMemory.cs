using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Node.Admission;

/// <summary>
/// Verdicts on peers no longer connected, bounded in count (least recently used forgotten first) and in time (each entry
/// lapses at its own deadline): refusals so that a revoked peer that reconnects with the same certificate stays
/// refused, admissions so that a peer still named in routing tables is re-judged when its certificate expires or is
/// revoked while it is away. Sans-I/O: the caller passes the time. Thread-safe.
/// </summary>
internal sealed class VerdictMemory(int capacity)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, LinkedListNode<Entry>> _byPeer = [];
    private readonly LinkedList<Entry> _lru = new();

    public int Count
    {
        get
        {
            lock (_lock) return _byPeer.Count;
        }
    }

    public void Remember(AdmissionVerdict verdict, ReadOnlyMemory<byte> publicKey, DateTimeOffset until)
    {
        lock (_lock)
        {
            if (_byPeer.Remove(verdict.Peer, out var old)) _lru.Remove(old);
            while (_byPeer.Count >= capacity && _lru.Last is { } last)
            {
                _lru.RemoveLast();
                _byPeer.Remove(last.Value.Verdict.Peer);
            }
            _byPeer[verdict.Peer] = _lru.AddFirst(new Entry(verdict, publicKey, until));
        }
    }

    public Entry? Get(PeerId peer, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (!_byPeer.TryGetValue(peer, out var node)) return null;
            if (node.Value.Until <= now)
            {
                _byPeer.Remove(peer);
                _lru.Remove(node);
                return null;
            }
            _lru.Remove(node);
            _lru.AddFirst(node);
            return node.Value;
        }
    }

    public Entry? Take(PeerId peer, DateTimeOffset now)
    {
        var entry = Get(peer, now);
        Forget(peer);
        return entry;
    }

    public void Forget(PeerId peer)
    {
        lock (_lock)
        {
            if (_byPeer.Remove(peer, out var node)) _lru.Remove(node);
        }
    }

    /// <summary>The unexpired entries (expired ones are dropped on the way).</summary>
    public List<Entry> Snapshot(DateTimeOffset now)
    {
        lock (_lock)
        {
            var list = new List<Entry>(_byPeer.Count);
            for (var node = _lru.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.Until <= now)
                {
                    _byPeer.Remove(node.Value.Verdict.Peer);
                    _lru.Remove(node);
                }
                else list.Add(node.Value);
                node = next;
            }
            return list;
        }
    }

    internal sealed record Entry(AdmissionVerdict Verdict, ReadOnlyMemory<byte> PublicKey, DateTimeOffset Until);
}
