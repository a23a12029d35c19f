using System.IO.Pipelines;
using KontinuumP2P.Core.Addressing;

namespace KontinuumP2P.Core.Network;

/// <summary>A raw, not yet secured, bidirectional byte connection (a TCP socket, an in-memory pipe).</summary>
public interface ITransportConnection : IDuplexPipe, IAsyncDisposable
{
    /// <summary>Our end of the connection.</summary>
    Multiaddr LocalAddress { get; }

    /// <summary>The remote end as observed here.</summary>
    Multiaddr RemoteAddress { get; }

    /// <summary>Closes the connection at once, discarding anything buffered.</summary>
    void Abort();
}

/// <summary>Accepts inbound raw connections on one address.</summary>
public interface ITransportListener : IAsyncDisposable
{
    /// <summary>The address actually bound (port 0 resolved).</summary>
    Multiaddr ListenAddress { get; }

    /// <summary>Waits for the next inbound connection.</summary>
    /// <exception cref="OperationCanceledException">Cancelled or the listener was disposed.</exception>
    ValueTask<ITransportConnection> AcceptAsync(CancellationToken cancellationToken);
}

/// <summary>A way of reaching peers: TCP, or the in-memory transport of tests and simulations.</summary>
public interface ITransport
{
    /// <summary>Whether this transport can dial <paramref name="address"/> (its shape, not its reachability).</summary>
    bool CanDial(Multiaddr address);

    /// <summary>Whether this transport can listen on <paramref name="address"/>.</summary>
    bool CanListen(Multiaddr address);

    /// <summary>Opens a raw connection.</summary>
    ValueTask<ITransportConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken);

    /// <summary>Starts listening.</summary>
    ValueTask<ITransportListener> ListenAsync(Multiaddr address, CancellationToken cancellationToken);
}
