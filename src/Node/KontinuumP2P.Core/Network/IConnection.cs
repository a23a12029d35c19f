using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Core.Network;

/// <summary>Who opened a connection or stream.</summary>
public enum Direction
{
    /// <summary>We dialed.</summary>
    Outbound,
    /// <summary>The remote dialed.</summary>
    Inbound,
}

/// <summary>An upgraded (secured and multiplexed) connection to one authenticated peer.</summary>
public interface IConnection
{
    /// <summary>A process-unique id for logs.</summary>
    string Id { get; }

    /// <summary>The authenticated remote peer.</summary>
    PeerId RemotePeer { get; }

    /// <summary>The remote's encoded public key (libp2p <c>PublicKey</c> protobuf) proven in the handshake.</summary>
    ReadOnlyMemory<byte> RemotePublicKey { get; }

    /// <summary>The remote address as seen here (without <c>/p2p/</c>).</summary>
    Multiaddr RemoteAddress { get; }

    /// <summary>Our local address of this connection.</summary>
    Multiaddr LocalAddress { get; }

    /// <summary>Who dialed.</summary>
    Direction Direction { get; }

    /// <summary>When the upgrade finished.</summary>
    DateTimeOffset Opened { get; }

    /// <summary>True once the connection is closed or closing.</summary>
    bool IsClosed { get; }

    /// <summary>Opens a stream and negotiates the first protocol of <paramref name="protocols"/> the remote accepts.</summary>
    /// <exception cref="ProtocolNotSupportedException">The remote accepted none.</exception>
    ValueTask<IP2PStream> NewStreamAsync(IReadOnlyList<string> protocols, CancellationToken cancellationToken);

    /// <summary>Closes the connection gracefully (yamux GoAway normal, then the socket).</summary>
    ValueTask CloseAsync(CancellationToken cancellationToken);
}
