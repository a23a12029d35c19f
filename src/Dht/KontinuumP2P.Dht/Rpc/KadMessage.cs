using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Records;

namespace KontinuumP2P.Dht.Rpc;

/// <summary>Kad-DHT message types (wire values).</summary>
public enum KadMessageType
{
    /// <summary>Store a record.</summary>
    PutValue = 0,
    /// <summary>Fetch a record and closer peers.</summary>
    GetValue = 1,
    /// <summary>Announce the sender as a provider of a key (no response).</summary>
    AddProvider = 2,
    /// <summary>Fetch providers and closer peers.</summary>
    GetProviders = 3,
    /// <summary>Fetch peers closer to a key.</summary>
    FindNode = 4,
    /// <summary>Deprecated liveness check; answered, never sent.</summary>
    Ping = 5,
}

/// <summary>A peer as carried in kad messages.</summary>
/// <param name="PeerId">The peer.</param>
/// <param name="Addresses">Its addresses, without <c>/p2p/</c>.</param>
public sealed record KadPeer(PeerId PeerId, IReadOnlyList<Multiaddr> Addresses);

/// <summary>One kad-dht request or response, decoded and validated for shape.</summary>
/// <param name="Type">The message type.</param>
/// <param name="Key">The key (peer multihash for FIND_NODE, record key, or provider multihash).</param>
/// <param name="Record">The record of PUT_VALUE requests and GET_VALUE answers.</param>
/// <param name="CloserPeers">Peers closer to the key.</param>
/// <param name="ProviderPeers">Providers (GET_PROVIDERS answers, ADD_PROVIDER requests).</param>
public sealed record KadMessage(
    KadMessageType Type,
    ReadOnlyMemory<byte> Key,
    DhtRecord? Record,
    IReadOnlyList<KadPeer> CloserPeers,
    IReadOnlyList<KadPeer> ProviderPeers)
{
    /// <summary>A request with only a type and key.</summary>
    public static KadMessage Request(KadMessageType type, ReadOnlyMemory<byte> key) => new(type, key, null, [], []);
}
