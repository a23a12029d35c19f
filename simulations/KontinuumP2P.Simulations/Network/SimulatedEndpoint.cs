using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Rpc;

namespace KontinuumP2P.Simulations.Network;

/// <summary>What a node shows at the start of a connection: its identity key (as Noise would prove it) and the certificate it pushes.</summary>
/// <param name="PeerId">The node.</param>
/// <param name="PublicKey">Its raw Ed25519 public key (the key the connection is authenticated with).</param>
/// <param name="Certificate">The certificate it presents, or null.</param>
public sealed record PeerCredentials(PeerId PeerId, ReadOnlyMemory<byte> PublicKey, Certificate? Certificate)
{
    /// <summary>The key in the libp2p container, as a real connection reports it (encoded once).</summary>
    public ReadOnlyMemory<byte> EncodedPublicKey { get; } = PublicKeyEncoding.Encode(KeyType.Ed25519, PublicKey.Span);
}

/// <summary>Told about the other side the first time two nodes talk (the certificate exchange of a real connection).</summary>
public interface IContactObserver
{
    /// <summary>Judges what <paramref name="peer"/> presented; called once per peer, before its message is handled.</summary>
    void OnContact(PeerCredentials peer);
}

/// <summary>Rewrites answers of a misbehaving node (poisoned closer peers, withheld records).</summary>
/// <param name="from">The requester.</param>
/// <param name="request">The request.</param>
/// <param name="answer">What the node's real handler answered.</param>
public delegate KadMessage AnswerRewriter(PeerId from, KadMessage request, KadMessage answer);

/// <summary>One node's attachment to a <see cref="SimulatedNetwork"/>: its <see cref="IKadNetwork"/>.</summary>
public sealed class SimulatedEndpoint : IKadNetwork
{
    private readonly SimulatedNetwork _network;
    // The address book: a bit per node slot for peers known at their real addresses (almost all of them; no entry
    // object and nothing for the collector to trace), and a dictionary for any other list (rewritten, foreign).
    private ulong[] _knownAtCanonical = [];
    private int _canonicalCount;
    private readonly Dictionary<PeerId, IReadOnlyList<Multiaddr>> _otherAddresses = [];
    // Message numbers per peer sent to, by the peer's slot (an int pair per peer: 20 bytes where a PeerId key and a long
    // took 28, and one per peer ever talked to); peers never attached here (none in the scenarios) by id.
    private readonly Dictionary<int, int> _sequences = [];
    private readonly Dictionary<PeerId, long> _unslottedSequences = [];
    // System.Threading.Lock, not Monitor on the dictionaries: these are taken for every message and every address looked
    // up, and Monitor.Enter took its slow path here (31 % of a 1,000-node run's samples).
    private readonly Lock _addressLock = new();
    private readonly Lock _sequenceLock = new();
    private volatile KadRequestHandler? _handler;
    private volatile bool _attached = true;

    internal SimulatedEndpoint(SimulatedNetwork network, int index, CanonicalAddresses addresses, PeerCredentials credentials, string protocolId)
    {
        _network = network;
        Index = index;
        Slot = addresses.Slot;
        Credentials = credentials;
        Canonical = addresses;
        ProtocolId = protocolId;
    }

    /// <summary>The node's number in the simulation (a deterministic tie-break for events).</summary>
    public int Index { get; }

    /// <summary>Whether the endpoint is still attached (false once detached; a node attached again gets a new endpoint).</summary>
    internal bool IsAttached
    {
        get => _attached;
        set => _attached = value;
    }

    /// <summary>The node's slot among every node ever attached (dense, kept after it leaves).</summary>
    internal int Slot { get; }

    /// <summary>What the node presents at each new contact.</summary>
    public PeerCredentials Credentials { get; }

    /// <summary>Judges the other side at first contact (the admission layer); none means nobody is judged.</summary>
    public IContactObserver? Contacts { get; set; }

    /// <summary>Rewrites answers (malicious nodes only).</summary>
    public AnswerRewriter? Rewriter { get; set; }

    /// <inheritdoc />
    public PeerId LocalPeer => Credentials.PeerId;

    /// <inheritdoc />
    public string ProtocolId { get; }

    /// <inheritdoc />
    public TimeProvider TimeProvider => _network.Time;

    /// <inheritdoc />
    public IReadOnlyList<Multiaddr> LocalAddresses => Canonical;

    /// <summary>Our own addresses, the list object the network and every address book share.</summary>
    internal CanonicalAddresses Canonical { get; }

    /// <summary>The request handler, when serving.</summary>
    internal KadRequestHandler? Handler => _handler;

    /// <summary>Entries in the address book (memory accounting).</summary>
    public int KnownAddresses
    {
        get
        {
            lock (_addressLock) return _canonicalCount + _otherAddresses.Count;
        }
    }

    /// <summary>Peers we have numbered messages to (memory accounting: one entry per peer ever sent to).</summary>
    public int NumberedPeers
    {
        get
        {
            lock (_sequenceLock) return _sequences.Count + _unslottedSequences.Count;
        }
    }

    /// <inheritdoc />
    public event EventHandler<PeerId>? ServerPeerDiscovered
    {
        // Identify is not simulated: candidates come from inbound requests and answers, as on a real node.
        add { }
        remove { }
    }

    /// <inheritdoc />
    public IReadOnlyList<Multiaddr> GetAddresses(PeerId peer)
    {
        _network.TryGetCanonical(peer, out var slot, out var canonical);
        lock (_addressLock) return BookEntry(peer, slot, canonical);
    }

    /// <inheritdoc />
    public void GetAddresses(ReadOnlySpan<PeerId> peers, Span<IReadOnlyList<Multiaddr>> addresses)
    {
        if (addresses.Length < peers.Length) throw new ArgumentException("shorter than the peers", nameof(addresses));
        Span<int> slots = peers.Length <= 64 ? stackalloc int[peers.Length] : new int[peers.Length];
        // Two locks per answer instead of two per peer: each is an atomic instruction that waits for the loads before it.
        _network.FindCanonical(peers, slots, addresses);
        lock (_addressLock)
        {
            for (var i = 0; i < peers.Length; i++) addresses[i] = BookEntry(peers[i], slots[i], addresses[i]);
        }
    }

    /// <summary>
    /// What the book holds for <paramref name="peer"/>, given its slot (-1: never attached) and real list; under the
    /// address lock.
    /// </summary>
    private IReadOnlyList<Multiaddr> BookEntry(PeerId peer, int slot, IReadOnlyList<Multiaddr> canonical)
    {
        if (slot >= 0 && IsKnownAtCanonical(slot)) return canonical;
        return _otherAddresses.TryGetValue(peer, out var list) ? list : [];
    }

    /// <inheritdoc />
    public void AddAddresses(PeerId peer, IReadOnlyList<Multiaddr> addresses)
    {
        if (addresses.Count == 0) return;
        var (indexed, atCanonical, slot) = Classify(peer, addresses);
        lock (_addressLock) Remember(peer, addresses, indexed, atCanonical, slot);
    }

    /// <inheritdoc />
    public void AddAddresses(IReadOnlyList<KadPeer> peers)
    {
        // Classified outside the lock (a network look-up for a list that is not the peer's own), then remembered under
        // one lock for the whole answer: each lock is an atomic instruction that waits for the loads before it.
        Span<(bool Indexed, bool AtCanonical, int Slot)> classes = peers.Count <= 64 ? stackalloc (bool, bool, int)[peers.Count] : new (bool, bool, int)[peers.Count];
        for (var i = 0; i < peers.Count; i++)
        {
            if (IsLearnt(peers[i])) classes[i] = Classify(peers[i].PeerId, peers[i].Addresses);
        }
        lock (_addressLock)
        {
            for (var i = 0; i < peers.Count; i++)
            {
                if (IsLearnt(peers[i])) Remember(peers[i].PeerId, peers[i].Addresses, classes[i].Indexed, classes[i].AtCanonical, classes[i].Slot);
            }
        }
    }

    /// <summary>Whether an answer's peer goes into the book: not us, and with an address.</summary>
    private bool IsLearnt(KadPeer peer) => peer.Addresses.Count > 0 && peer.PeerId != LocalPeer;

    /// <summary>
    /// Whether <paramref name="addresses"/> are <paramref name="peer"/>'s real ones. The node's real address (the common
    /// case) is one bit; a later different list replaces it, and back. The peer's own attached list (identify, and almost
    /// every peer in an answer) tells its slot without a look-up.
    /// </summary>
    private (bool Indexed, bool AtCanonical, int Slot) Classify(PeerId peer, IReadOnlyList<Multiaddr> addresses)
    {
        if (addresses is CanonicalAddresses { IsCurrent: true } own && ReferenceEquals(own.Owner, peer)) return (true, true, own.Slot);
        var indexed = _network.TryGetCanonical(peer, out var slot, out var canonical);
        return (indexed, indexed && addresses.Count == canonical.Count && addresses[0].Equals(canonical[0]), slot);
    }

    private void Remember(PeerId peer, IReadOnlyList<Multiaddr> addresses, bool indexed, bool atCanonical, int slot)
    {
        if (atCanonical)
        {
            _otherAddresses.Remove(peer);
            SetKnownAtCanonical(slot, true);
        }
        else
        {
            if (indexed) SetKnownAtCanonical(slot, false);
            _otherAddresses[peer] = addresses;
        }
    }

    private bool IsKnownAtCanonical(int slot) => slot >> 6 < _knownAtCanonical.Length && (_knownAtCanonical[slot >> 6] & (1UL << slot)) != 0;

    private void SetKnownAtCanonical(int slot, bool known)
    {
        var word = slot >> 6;
        if (word >= _knownAtCanonical.Length)
        {
            if (!known) return;
            Array.Resize(ref _knownAtCanonical, Math.Max(word + 1, _knownAtCanonical.Length * 2));
        }
        var bit = 1UL << slot;
        var was = (_knownAtCanonical[word] & bit) != 0;
        if (was == known) return;
        _knownAtCanonical[word] ^= bit;
        _canonicalCount += known ? 1 : -1;
    }

    /// <inheritdoc />
    public ValueTask<KadMessage?> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken) =>
        _network.SendAsync(this, peer, request, cancellationToken);

    /// <inheritdoc />
    public void StartServing(KadRequestHandler handler) => _handler = handler;

    /// <inheritdoc />
    public void StopServing() => _handler = null;

    /// <summary>
    /// The number of the next message from us to <paramref name="peer"/> (slot <paramref name="slot"/>, or -1 when it was
    /// never attached): 1, 2, 3... per peer, the same numbers whichever key holds them.
    /// </summary>
    internal long NextSequence(PeerId peer, int slot)
    {
        lock (_sequenceLock)
        {
            if (slot < 0)
            {
                var next = _unslottedSequences.GetValueOrDefault(peer) + 1;
                _unslottedSequences[peer] = next;
                return next;
            }
            ref var count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_sequences, slot, out _);
            // A pair exchanges far fewer than 2^31 messages in any run; past it the numbers would repeat: fail instead.
            return checked(++count);
        }
    }
}
