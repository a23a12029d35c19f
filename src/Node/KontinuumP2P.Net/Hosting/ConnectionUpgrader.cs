using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Net.Negotiation;
using KontinuumP2P.Net.Security;

namespace KontinuumP2P.Net.Hosting;

/// <summary>
/// The upgrade pipeline of one raw connection: multistream <c>/noise</c> → security handshake → the muxer agreed
/// inside the handshake, or else a multistream round for it → the muxer session (the dialer is the client).
/// The caller bounds it with a timeout and aborts the raw connection on failure.
/// </summary>
internal sealed class ConnectionUpgrader(IConnectionSecurity security, IStreamMuxerFactory muxer)
{
    public async ValueTask<(ISecureConnection Secure, IStreamMuxer Muxer)> OutboundAsync(
        ITransportConnection raw, PeerId? expectedRemote, CancellationToken cancellationToken)
    {
        await MultistreamSelect.SelectAsync(raw, [security.ProtocolId], cancellationToken).ConfigureAwait(false);
        var secure = await security.SecureOutboundAsync(raw, expectedRemote, cancellationToken).ConfigureAwait(false);
        try
        {
            if (secure.NegotiatedMuxer != muxer.ProtocolId)
            {
                if (secure.NegotiatedMuxer is not null)
                    throw new HandshakeException($"the remote picked muxer '{secure.NegotiatedMuxer}', which we did not offer");
                await MultistreamSelect.SelectAsync(secure, [muxer.ProtocolId], cancellationToken).ConfigureAwait(false);
            }
            return (secure, muxer.Create(secure, isClient: true));
        }
        catch
        {
            secure.Abort();
            throw;
        }
    }

    public async ValueTask<(ISecureConnection Secure, IStreamMuxer Muxer)> InboundAsync(
        ITransportConnection raw, CancellationToken cancellationToken)
    {
        await MultistreamSelect.HandleAsync(raw, [security.ProtocolId], cancellationToken).ConfigureAwait(false);
        var secure = await security.SecureInboundAsync(raw, cancellationToken).ConfigureAwait(false);
        try
        {
            if (secure.NegotiatedMuxer != muxer.ProtocolId)
            {
                if (secure.NegotiatedMuxer is not null)
                    throw new HandshakeException($"the remote picked muxer '{secure.NegotiatedMuxer}', which we did not offer");
                await MultistreamSelect.HandleAsync(secure, [muxer.ProtocolId], cancellationToken).ConfigureAwait(false);
            }
            return (secure, muxer.Create(secure, isClient: false));
        }
        catch
        {
            secure.Abort();
            throw;
        }
    }
}
