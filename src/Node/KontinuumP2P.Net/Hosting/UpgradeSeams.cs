using System.IO.Pipelines;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Net.Security;

namespace KontinuumP2P.Net.Hosting;

/// <summary>The security step of the upgrade pipeline (Noise by default), negotiated by its protocol id.</summary>
public interface IConnectionSecurity
{
    /// <summary>The multistream id, e.g. <c>/noise</c>.</summary>
    string ProtocolId { get; }

    /// <summary>Runs the handshake as initiator; when <paramref name="expectedRemote"/> is set the remote must prove it.</summary>
    ValueTask<ISecureConnection> SecureOutboundAsync(ITransportConnection raw, PeerId? expectedRemote, CancellationToken cancellationToken);

    /// <summary>Runs the handshake as responder.</summary>
    ValueTask<ISecureConnection> SecureInboundAsync(ITransportConnection raw, CancellationToken cancellationToken);
}

/// <summary>The muxing step of the upgrade pipeline (Yamux by default), negotiated by its protocol id.</summary>
public interface IStreamMuxerFactory
{
    /// <summary>The multistream id, e.g. <c>/yamux/1.0.0</c>.</summary>
    string ProtocolId { get; }

    /// <summary>Starts a session over a secured connection; the dialer is the client.</summary>
    IStreamMuxer Create(IDuplexPipe secured, bool isClient);
}
