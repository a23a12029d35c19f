using System.IO.Pipelines;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Security;

/// <summary>
/// A raw connection after the security handshake: an authenticated, encrypted byte stream. Frame boundaries of the
/// security protocol are invisible here; the muxer reads and writes plain bytes.
/// </summary>
public interface ISecureConnection : IDuplexPipe, IAsyncDisposable
{
    /// <summary>The authenticated remote peer.</summary>
    PeerId RemotePeer { get; }

    /// <summary>The remote's encoded public key (libp2p <c>PublicKey</c> protobuf), verified by the handshake.</summary>
    ReadOnlyMemory<byte> RemotePublicKey { get; }

    /// <summary>
    /// The muxer agreed inside the handshake (inlined muxer negotiation), or null when the remote offered none and a
    /// multistream-select round must pick it.
    /// </summary>
    string? NegotiatedMuxer { get; }

    /// <summary>The underlying raw connection.</summary>
    ITransportConnection Transport { get; }

    /// <summary>Closes at once.</summary>
    void Abort();
}

/// <summary>Raised when a security handshake fails; the raw connection is closed.</summary>
public sealed class HandshakeException : IOException
{
    /// <summary>Creates the exception.</summary>
    public HandshakeException() : base("security handshake failed") { }

    /// <summary>Creates the exception with a message.</summary>
    public HandshakeException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public HandshakeException(string message, Exception inner) : base(message, inner) { }
}
