using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Simulations.Network;

/// <summary>
/// A simulated node's address book under the bounds of the node's peer store (<c>PeerStore</c> with the host's
/// defaults): peers heard from first-hand (they contacted us) live in one pool for <see cref="FirstHandTtl"/>, peers only
/// named by others in a smaller pool for <see cref="SecondHandTtl"/>; each pool forgets its least recently updated
/// peer first when full or expired; routing-table entries (<see cref="SetProtected"/>) are never forgotten. Not
/// thread-safe: the owner locks. Lighter than the real store (one list per peer, shared between books).
/// </summary>
internal sealed class AddressBook
{
    private readonly Dictionary<PeerId, Entry> _peers = [];
    private readonly Pool _firstHand;
    private readonly Pool _secondHand;

    /// <summary>Creates a book with the given pool sizes and lifetimes.</summary>
    public AddressBook(int firstHandCapacity, int secondHandCapacity, TimeSpan firstHandTtl, TimeSpan secondHandTtl)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(firstHandCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(secondHandCapacity, 1);
        _firstHand = new Pool(firstHandCapacity);
        _secondHand = new Pool(secondHandCapacity);
        FirstHandTtl = firstHandTtl;
        SecondHandTtl = secondHandTtl;
    }

    /// <summary>The node's defaults: 10,000 first-hand peers for an hour, 2,500 second-hand for 10 minutes.</summary>
    public static AddressBook WithNodeDefaults() => new(10_000, 2_500, TimeSpan.FromHours(1), TimeSpan.FromMinutes(10));

    /// <summary>Lifetime of an address from a peer that contacted us.</summary>
    public TimeSpan FirstHandTtl { get; }

    /// <summary>Lifetime of an address someone else named.</summary>
    public TimeSpan SecondHandTtl { get; }

    /// <summary>Peers held (protected ones included).</summary>
    public int Count => _peers.Count;

    /// <summary>The addresses of <paramref name="peer"/> still valid at <paramref name="now"/>, or empty.</summary>
    public IReadOnlyList<Multiaddr> Get(PeerId peer, long now) =>
        _peers.TryGetValue(peer, out var entry) && (entry.Protected || entry.Expires > now) ? entry.Addresses : [];

    /// <summary>Records addresses; <paramref name="firstHand"/> when the peer itself contacted us.</summary>
    public void Add(PeerId peer, IReadOnlyList<Multiaddr> addresses, bool firstHand, long now)
    {
        if (addresses.Count == 0) return;
        var expires = now + (firstHand ? FirstHandTtl : SecondHandTtl).Ticks;
        if (_peers.TryGetValue(peer, out var entry))
        {
            // A second-hand mention neither shortens a first-hand lifetime nor moves the peer between pools.
            if (!entry.FirstHand && firstHand)
            {
                if (!entry.Protected) _secondHand.Unlink(entry);
                entry.FirstHand = true;
                entry.Expires = expires;
            }
            else if (expires > entry.Expires) entry.Expires = expires;
            entry.Addresses = addresses;
            if (!entry.Protected) PoolOf(entry).MoveToTail(entry);
        }
        else
        {
            entry = new Entry(peer, addresses, expires, firstHand);
            _peers[peer] = entry;
            PoolOf(entry).MoveToTail(entry);
        }
        Evict(PoolOf(entry), now);
    }

    /// <summary>Table entries are kept whatever the pools hold; when one leaves the table it rejoins its pool.</summary>
    public void SetProtected(PeerId peer, bool isProtected, long now)
    {
        if (!_peers.TryGetValue(peer, out var entry) || entry.Protected == isProtected) return;
        entry.Protected = isProtected;
        if (isProtected)
        {
            PoolOf(entry).Unlink(entry);
            return;
        }
        if (entry.Expires <= now)
        {
            _peers.Remove(peer); // its addresses lapsed while it was a table entry
            return;
        }
        PoolOf(entry).MoveToTail(entry);
        Evict(PoolOf(entry), now);
    }

    private Pool PoolOf(Entry entry) => entry.FirstHand ? _firstHand : _secondHand;

    /// <summary>Forgets the pool's oldest peers while it is over capacity or its oldest has expired.</summary>
    private void Evict(Pool pool, long now)
    {
        // One lifetime per pool and a refresh moves a peer to the tail, so expiry runs head first (as near as a
        // later second-hand mention that lengthens nothing allows).
        while (pool.Head is { } oldest && (pool.Count > pool.Capacity || oldest.Expires <= now))
        {
            pool.Unlink(oldest);
            _peers.Remove(oldest.Peer);
        }
    }

    private sealed class Entry(PeerId peer, IReadOnlyList<Multiaddr> addresses, long expires, bool firstHand)
    {
        public PeerId Peer { get; } = peer;
        public IReadOnlyList<Multiaddr> Addresses { get; set; } = addresses;
        public long Expires { get; set; } = expires;
        public bool FirstHand { get; set; } = firstHand;
        public bool Protected { get; set; }
        public Entry? Previous { get; set; }
        public Entry? Next { get; set; }
        public bool Linked { get; set; }
    }

    /// <summary>An intrusive least-recently-updated list (no node object per peer).</summary>
    private sealed class Pool(int capacity)
    {
        public int Capacity { get; } = capacity;
        public int Count { get; private set; }
        public Entry? Head { get; private set; }
        private Entry? _tail;

        public void MoveToTail(Entry entry)
        {
            if (entry.Linked && entry == _tail) return;
            Unlink(entry);
            entry.Previous = _tail;
            entry.Next = null;
            if (_tail is null) Head = entry;
            else _tail.Next = entry;
            _tail = entry;
            entry.Linked = true;
            Count++;
        }

        public void Unlink(Entry entry)
        {
            if (!entry.Linked) return;
            if (entry.Previous is null) Head = entry.Next;
            else entry.Previous.Next = entry.Next;
            if (entry.Next is null) _tail = entry.Previous;
            else entry.Next.Previous = entry.Previous;
            entry.Previous = entry.Next = null;
            entry.Linked = false;
            Count--;
        }
    }
}
