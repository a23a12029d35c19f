using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Resources;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Net.Negotiation;
using KontinuumP2P.Net.Security;
using KontinuumP2P.Net.Security.Noise;

namespace KontinuumP2P.Net.Hosting;

/// <summary>
/// The upgrade pipeline of one raw connection: multistream <c>/noise</c> → security handshake → the muxer agreed
/// inside the handshake (any of ours the remote picked), or else a multistream round over our muxers in preference
/// order → the muxer session (the dialer is the client).
/// The caller bounds it with a timeout and aborts the raw connection on failure.
/// </summary>
internal sealed class ConnectionUpgrader
{
    private readonly IConnectionSecurity _security;
    private readonly IStreamMuxerFactory[] _muxers;
    private readonly string[] _muxerIds;
    private readonly Func<PeerId, ResourceScope>? _openScope;

    public ConnectionUpgrader(IConnectionSecurity security, IReadOnlyList<IStreamMuxerFactory> muxers, Func<PeerId, ResourceScope>? openScope = null)
    {
        _openScope = openScope;
        if (muxers.Count == 0) throw new ArgumentException("at least one muxer is needed", nameof(muxers));
        _security = security;
        _muxers = [.. muxers];
        _muxerIds = [.. muxers.Select(m => m.ProtocolId)];
    }

    public async ValueTask<(ISecureConnection Secure, IStreamMuxer Muxer)> OutboundAsync(
        ITransportConnection raw, PeerId? expectedRemote, CancellationToken cancellationToken)
    {
        await MultistreamSelect.SelectAsync(raw, [_security.ProtocolId], cancellationToken).ConfigureAwait(false);
        var secure = await _security.SecureOutboundAsync(raw, expectedRemote, cancellationToken).ConfigureAwait(false);
        try
        {
            var id = secure.NegotiatedMuxer
                ?? await MultistreamSelect.SelectAsync(secure, _muxerIds, cancellationToken).ConfigureAwait(false);
            return (secure, CreateMuxer(Find(id), secure, isClient: true));
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
        await MultistreamSelect.HandleAsync(raw, [_security.ProtocolId], cancellationToken).ConfigureAwait(false);
        var secure = await _security.SecureInboundAsync(raw, cancellationToken).ConfigureAwait(false);
        try
        {
            var id = secure.NegotiatedMuxer
                ?? await MultistreamSelect.HandleAsync(secure, _muxerIds, cancellationToken).ConfigureAwait(false);
            return (secure, CreateMuxer(Find(id), secure, isClient: false));
        }
        catch
        {
            secure.Abort();
            throw;
        }
    }

    private IStreamMuxer CreateMuxer(IStreamMuxerFactory factory, ISecureConnection secure, bool isClient)
    {
        // Yamux reserves its streams and received bytes in the connection's scope; other muxers are not wired yet.
        if (_openScope is null || factory is not YamuxMuxerFactory yamux) return factory.Create(secure, isClient);
        var scope = _openScope(secure.RemotePeer);
        try
        {
            // Noise's receive buffers live as long as the connection: charged up front, released when the scope closes.
            if (secure is NoiseSecureConnection noise) scope.ReserveMemory(noise.BufferBytes, "the connection's Noise buffers");
            return yamux.Create(secure, isClient, scope);
        }
        catch
        {
            scope.Dispose();
            throw;
        }
    }

    private IStreamMuxerFactory Find(string id) =>
        Array.Find(_muxers, m => string.Equals(m.ProtocolId, id, StringComparison.Ordinal))
        ?? throw new HandshakeException($"the remote picked muxer '{id}', which we did not offer");
}
