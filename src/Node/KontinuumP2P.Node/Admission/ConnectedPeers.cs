using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Node.Admission;

/// <summary>
/// The admission state of connected peers: one struct per peer inside one dictionary, the decision's parts inline (no
/// entry object, verdict object or task per peer; a verdict is built when asked for, a task source only while someone
/// waits before the decision). A node holds one per connected peer, and a simulated node one per peer it ever met, so
/// the size of an entry is what counts: 48 bytes of dictionary entry and 4 of bucket here, against ~150 in a concurrent
/// dictionary node, an entry object and a verdict. Thread-safe (one lock, held for a few field reads or writes).
/// </summary>
internal sealed class ConnectedPeers
{
    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, Slot> _slots = [];
    // Waiters before a decision are rare (most peers are decided before anyone asks): kept apart, not a field per peer.
    private readonly Dictionary<PeerId, TaskCompletionSource<AdmissionVerdict>> _waiting = [];
    // Counts the changes that can take a held peer's servable status back (see Generation).
    private long _generation;

    /// <summary>Peers held (connected, decided or not).</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _slots.Count;
        }
    }

    /// <summary>Whether <paramref name="peer"/> is held, and its verdict when decided (null while pending).</summary>
    public bool TryGet(PeerId peer, out AdmissionVerdict? decided)
    {
        lock (_lock)
        {
            if (!_slots.TryGetValue(peer, out var slot))
            {
                decided = null;
                return false;
            }
            decided = slot.Verdict(peer);
            return true;
        }
    }

    /// <summary>The status of a held peer (<see cref="AdmissionStatus.Pending"/> until decided); null when not held.</summary>
    public AdmissionStatus? GetStatus(PeerId peer)
    {
        lock (_lock) return _slots.TryGetValue(peer, out var slot) ? slot.Status : null;
    }

    /// <summary>
    /// Grows whenever a held peer is decided anything but admitted, or a held peer that
    /// <see cref="GetStatus(PeerId, out long)"/> was asked about leaves: while it stays the same, a peer that it found
    /// held and pending or admitted is still so. (Peers never asked about come and go without moving it: a simulated
    /// node closes idle connections by the dozen a minute.)
    /// </summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary><see cref="GetStatus(PeerId)"/> and the <see cref="Generation"/> it was read under.</summary>
    public AdmissionStatus? GetStatus(PeerId peer, out long generation)
    {
        lock (_lock)
        {
            generation = _generation;
            ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_slots, peer);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref slot)) return null;
            slot.GenerationHandedOut = true;
            return slot.Status;
        }
    }

    /// <summary>Whether <paramref name="peer"/> is held and decided.</summary>
    public bool IsDecided(PeerId peer)
    {
        lock (_lock) return _slots.TryGetValue(peer, out var slot) && slot.Reason is not null;
    }

    /// <summary>Holds <paramref name="peer"/> (pending unless held already); records its key when given.</summary>
    public void Add(PeerId peer, ReadOnlyMemory<byte>? publicKey = null)
    {
        lock (_lock)
        {
            ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_slots, peer, out _);
            if (publicKey is { } key) slot.PublicKey = AsArray(key);
        }
    }

    /// <summary>Forgets <paramref name="peer"/>; returns its verdict when it was decided, and its key.</summary>
    public bool Remove(PeerId peer, out AdmissionVerdict? decided, out ReadOnlyMemory<byte> publicKey)
    {
        lock (_lock)
        {
            if (!_slots.Remove(peer, out var slot))
            {
                (decided, publicKey) = (null, default);
                return false;
            }
            // A waiter, if any, is left to its timeout, as before the decision of a peer that left.
            _waiting.Remove(peer);
            if (slot.GenerationHandedOut) Interlocked.Increment(ref _generation);
            (decided, publicKey) = (slot.Verdict(peer), slot.PublicKey ?? ReadOnlyMemory<byte>.Empty);
            return true;
        }
    }

    /// <summary>
    /// The verdict on a held peer: decided already, or a task that completes when <see cref="Decide"/> runs. Null when
    /// the peer is not held (it disconnected).
    /// </summary>
    public Task<AdmissionVerdict>? WaitAsync(PeerId peer)
    {
        lock (_lock)
        {
            ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_slots, peer);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref slot)) return null;
            if (slot.Verdict(peer) is { } decided) return Task.FromResult(decided);
            if (!_waiting.TryGetValue(peer, out var waiting))
            {
                waiting = new TaskCompletionSource<AdmissionVerdict>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting[peer] = waiting;
            }
            return waiting.Task;
        }
    }

    /// <summary>
    /// Records the verdict on a held, undecided peer and completes its waiter; false (and nothing changes) when the
    /// peer is not held or was decided already. <paramref name="current"/> is the verdict in force afterwards, if any.
    /// </summary>
    public bool Decide(AdmissionVerdict verdict, out AdmissionVerdict? current)
    {
        TaskCompletionSource<AdmissionVerdict>? waiting;
        lock (_lock)
        {
            ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_slots, verdict.Peer);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref slot))
            {
                current = null;
                return false;
            }
            if (slot.Reason is not null)
            {
                current = slot.Verdict(verdict.Peer);
                return false;
            }
            SetVerdict(ref slot, verdict);
            _waiting.Remove(verdict.Peer, out waiting);
        }
        current = verdict;
        waiting?.TrySetResult(verdict);
        return true;
    }

    /// <summary>
    /// Replaces the verdict on a held peer whose decision is still the one numbered <paramref name="version"/> (from
    /// <see cref="Decided"/>), or any decision when <paramref name="version"/> is null; false when it changed meanwhile or
    /// the peer is gone. A peer still pending is decided (its waiter completes).
    /// </summary>
    public bool Replace(AdmissionVerdict verdict, int? version)
    {
        TaskCompletionSource<AdmissionVerdict>? waiting;
        lock (_lock)
        {
            ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_slots, verdict.Peer);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref slot) || (version is { } v && slot.Version != v)) return false;
            SetVerdict(ref slot, verdict);
            _waiting.Remove(verdict.Peer, out waiting);
        }
        waiting?.TrySetResult(verdict);
        return true;
    }

    /// <summary>The decided peers with their key and decision number (for <see cref="Replace"/>).</summary>
    public List<(AdmissionVerdict Verdict, ReadOnlyMemory<byte> PublicKey, int Version)> Decided()
    {
        lock (_lock)
        {
            var list = new List<(AdmissionVerdict, ReadOnlyMemory<byte>, int)>(_slots.Count);
            foreach (var (peer, slot) in _slots)
                if (slot.Verdict(peer) is { } verdict) list.Add((verdict, slot.PublicKey ?? ReadOnlyMemory<byte>.Empty, slot.Version));
            return list;
        }
    }

    /// <summary>Records a decision; one that takes a servable status back moves the <see cref="Generation"/>.</summary>
    private void SetVerdict(ref Slot slot, AdmissionVerdict verdict)
    {
        slot.Set(verdict);
        if (verdict.Status != AdmissionStatus.Admitted) Interlocked.Increment(ref _generation);
    }

    /// <summary>The key's own array when the memory is a whole array (as channels hand it over), else a copy.</summary>
    internal static byte[] AsArray(ReadOnlyMemory<byte> key) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(key, out var segment) && segment is { Offset: 0, Array: { } array }
        && array.Length == segment.Count ? array : key.ToArray();

    /// <summary>
    /// One peer (32 bytes): its key, the parts of its verdict (reason null while pending) and whether a generation was
    /// handed out with its status.
    /// </summary>
    private struct Slot
    {
        public byte[]? PublicKey;
        public Certificate? Certificate;
        public string? Reason;
        private byte _status;
        public bool GenerationHandedOut;
        public int Version;

        public AdmissionStatus Status
        {
            readonly get => (AdmissionStatus)_status;
            set => _status = (byte)value;
        }

        public readonly AdmissionVerdict? Verdict(PeerId peer) => Reason is null ? null : new(peer, Status, Certificate, Reason);

        public void Set(AdmissionVerdict verdict)
        {
            (Status, Certificate, Reason) = (verdict.Status, verdict.Certificate, verdict.Reason);
            Version++;
        }
    }
}
