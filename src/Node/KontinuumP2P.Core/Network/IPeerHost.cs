using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Core.Network;

/// <summary>
/// A libp2p host: one identity, its listeners, its upgraded connections (at most one in use per peer), the protocol
/// handlers it serves and what it has learnt about other peers. Services (DHT, mailbox) depend on this interface only.
/// </summary>
public interface IPeerHost : IAsyncDisposable
{
    /// <summary>Our peer id.</summary>
    PeerId PeerId { get; }

    /// <summary>Our encoded public key (libp2p <c>PublicKey</c> protobuf).</summary>
    ReadOnlyMemory<byte> PublicKey { get; }

    /// <summary>The addresses we listen on (port 0 resolved, without <c>/p2p/</c>).</summary>
    IReadOnlyList<Multiaddr> ListenAddresses { get; }

    /// <summary>What we know of other peers.</summary>
    IPeerStore PeerStore { get; }

    /// <summary>The protocols with a registered handler.</summary>
    IReadOnlyCollection<string> Protocols { get; }

    /// <summary>The open connections.</summary>
    IReadOnlyCollection<IConnection> Connections { get; }

    /// <summary>The clock the host and its services use.</summary>
    TimeProvider TimeProvider { get; }

    /// <summary>Starts listening on each address.</summary>
    ValueTask ListenAsync(IEnumerable<Multiaddr> addresses, CancellationToken cancellationToken);

    /// <summary>Dials an address; when it ends with <c>/p2p/&lt;id&gt;</c> the handshake must prove that identity.</summary>
    ValueTask<IConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken);

    /// <summary>Returns an open connection to <paramref name="peer"/> or dials its known addresses.</summary>
    ValueTask<IConnection> ConnectAsync(PeerId peer, CancellationToken cancellationToken);

    /// <summary>Opens a stream to <paramref name="peer"/> (connecting when needed) for the first accepted protocol.</summary>
    ValueTask<IP2PStream> NewStreamAsync(PeerId peer, IReadOnlyList<string> protocols, CancellationToken cancellationToken);

    /// <summary>Serves <paramref name="protocol"/> with <paramref name="handler"/> (replacing any earlier one).</summary>
    void SetHandler(string protocol, IProtocolHandler handler);

    /// <summary>Stops serving <paramref name="protocol"/>.</summary>
    void RemoveHandler(string protocol);

    /// <summary>Closes every connection to <paramref name="peer"/>.</summary>
    ValueTask DisconnectAsync(PeerId peer, CancellationToken cancellationToken);

    /// <summary>Raised when the first connection to a peer is upgraded.</summary>
    event EventHandler<PeerEventArgs>? PeerConnected;

    /// <summary>Raised when the last connection to a peer closes.</summary>
    event EventHandler<PeerEventArgs>? PeerDisconnected;

    /// <summary>Raised when identify (or identify push) from a peer has been merged into the peer store.</summary>
    event EventHandler<PeerEventArgs>? PeerIdentified;
}

/// <summary>Arguments of host peer events.</summary>
/// <param name="Peer">The peer.</param>
/// <param name="Connection">The connection concerned, when there is one.</param>
public sealed record PeerEventArgs(PeerId Peer, IConnection? Connection);
