using System.Collections;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Simulations.Network;

/// <summary>
/// A node's own address list as the network attached it: the one list object that its endpoint, every address book
/// holding it and every answer naming it share. It carries what the simulated wire would otherwise work out from the
/// addresses for every peer in every answer (several objects each, cold in a heap of millions): the owner's slot, its
/// encoded peer-field size and whether the decoder would change the list.
/// </summary>
internal sealed class CanonicalAddresses : IReadOnlyList<Multiaddr>
{
    private readonly Multiaddr[] _addresses;
    private volatile bool _current = true;

    public CanonicalAddresses(PeerId owner, int slot, Multiaddr[] addresses)
    {
        Owner = owner;
        Slot = slot;
        _addresses = addresses;
        IsAsDecoded = KadHandover.AddressesUnchanged(addresses);
        OwnerPeerFieldSize = KadHandover.PeerFieldSize(owner, addresses);
    }

    /// <summary>The node whose addresses these are.</summary>
    public PeerId Owner { get; }

    /// <summary>The owner's slot in the network (dense, kept after it leaves).</summary>
    public int Slot { get; }

    /// <summary>Whether the kad decoder would give this list back unchanged (no <c>/p2p/</c>, not over the cap).</summary>
    public bool IsAsDecoded { get; }

    /// <summary>The encoded size of the owner's peer field with these addresses.</summary>
    public int OwnerPeerFieldSize { get; }

    /// <summary>
    /// Whether these are still the owner's attached addresses: false once it was attached again (with a new list), after
    /// which only a look-up tells the current list.
    /// </summary>
    public bool IsCurrent
    {
        get => _current;
        set => _current = value;
    }

    public Multiaddr this[int index] => _addresses[index];

    public int Count => _addresses.Length;

    public IEnumerator<Multiaddr> GetEnumerator() => ((IEnumerable<Multiaddr>)_addresses).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
