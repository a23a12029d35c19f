using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Security.Noise;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Net.Security;

/// <summary>
/// The libp2p Noise security layer (<c>/noise</c>): <c>Noise_XX_25519_ChaChaPoly_SHA256</c>, empty prologue, 2-byte
/// frames, the libp2p identity payload and inlined muxer negotiation, byte-compatible with js-libp2p
/// (@libp2p/noise 17). Run it on a raw connection right after multistream-select agreed on <see cref="ProtocolId"/>;
/// bytes already buffered in the raw reader are part of the handshake. One instance serves every connection of a host
/// (its X25519 static key and signed payload are made once, as js does); it is thread-safe.
/// </summary>
public sealed class NoiseSecurity : IDisposable
{
    /// <summary>The multistream protocol id.</summary>
    public const string ProtocolId = "/noise";

    private readonly Ed25519Identity _identity;
    private readonly NoiseOptions _options;
    private readonly ILogger _logger;
    private readonly X25519KeyPair _staticKey;
    private readonly byte[] _payload;
    private readonly string[] _muxers;
    private int _disposed;

    /// <summary>Creates the layer for the host identity <paramref name="identity"/> (not owned: the caller disposes it).</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public NoiseSecurity(Ed25519Identity identity, NoiseOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(identity);
        _identity = identity;
        _options = options ?? new NoiseOptions();
        _options.Validate();
        _muxers = [.. _options.StreamMuxers];
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<NoiseSecurity>();
        _staticKey = X25519KeyPair.Generate();
        _payload = NoisePayload.Encode(identity, _staticKey.PublicKey, _muxers);
    }

    /// <summary>Our peer id (the remote is refused when it has the same one).</summary>
    public PeerId LocalPeer => _identity.PeerId;

    /// <summary>
    /// Runs the handshake as initiator (we dialed). When <paramref name="expectedRemote"/> is given (dialing a
    /// <c>/p2p/…</c> address) the remote must prove that identity.
    /// </summary>
    /// <exception cref="HandshakeException">The handshake failed or timed out; the raw connection has been aborted.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired; the raw connection has been aborted.</exception>
    public ValueTask<ISecureConnection> SecureOutboundAsync(ITransportConnection raw, PeerId? expectedRemote,
        CancellationToken cancellationToken) =>
        HandshakeAsync(raw, initiator: true, expectedRemote, cancellationToken);

    /// <summary>Runs the handshake as responder (the remote dialed us).</summary>
    /// <exception cref="HandshakeException">The handshake failed or timed out; the raw connection has been aborted.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired; the raw connection has been aborted.</exception>
    public ValueTask<ISecureConnection> SecureInboundAsync(ITransportConnection raw, CancellationToken cancellationToken) =>
        HandshakeAsync(raw, initiator: false, expectedRemote: null, cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _staticKey.Dispose();
    }

    private async ValueTask<ISecureConnection> HandshakeAsync(ITransportConnection raw, bool initiator,
        PeerId? expectedRemote, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(raw);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var role = initiator ? "initiator" : "responder";
        using var timeout = new CancellationTokenSource(_options.HandshakeTimeout, _options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        using var state = new XXHandshakeState(initiator, _staticKey, ReadOnlySpan<byte>.Empty);
        try
        {
            var remote = initiator
                ? await RunInitiatorAsync(state, raw, expectedRemote, linked.Token).ConfigureAwait(false)
                : await RunResponderAsync(state, raw, linked.Token).ConfigureAwait(false);
            var muxer = NoisePayload.SelectMuxer(remote.StreamMuxers, _muxers);
            var (send, receive) = state.Split();
            var connection = new NoiseSecureConnection(raw, send, receive, remote, muxer, _options, _logger);
            NoiseLog.HandshakeCompleted(_logger, role, remote.PeerId.ToString(), raw.RemoteAddress.ToString(), muxer);
            return connection;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            raw.Abort();
            NoiseLog.HandshakeFailed(_logger, role, raw.RemoteAddress.ToString(), "cancelled");
            throw;
        }
        catch (Exception ex)
        {
            raw.Abort();
            var failure = ex switch
            {
                OperationCanceledException when timeout.IsCancellationRequested =>
                    new HandshakeException($"Noise handshake timed out after {_options.HandshakeTimeout}", ex),
                HandshakeException handshake => handshake,
                _ => new HandshakeException($"Noise handshake failed: {ex.Message}", ex),
            };
            NoiseLog.HandshakeFailed(_logger, role, raw.RemoteAddress.ToString(), failure.Message);
            throw failure;
        }
    }

    // -> e; <- e, ee, s, es + payload; check the remote; -> s, se + payload.
    private async ValueTask<NoiseRemoteIdentity> RunInitiatorAsync(XXHandshakeState state, ITransportConnection raw,
        PeerId? expectedRemote, CancellationToken cancellationToken)
    {
        await NoiseFraming.WriteMessageAsync(raw.Output, state.WriteMessage(ReadOnlySpan<byte>.Empty), cancellationToken)
            .ConfigureAwait(false);
        var message = await NoiseFraming.ReadMessageAsync(raw.Input, cancellationToken).ConfigureAwait(false);
        var payload = state.ReadMessage(message);
        var remote = NoisePayload.Verify(payload, state.RemoteStaticPublicKey);
        CheckRemote(remote, expectedRemote);
        await NoiseFraming.WriteMessageAsync(raw.Output, state.WriteMessage(_payload), cancellationToken).ConfigureAwait(false);
        return remote;
    }

    // <- e (any payload ignored); -> e, ee, s, es + payload; <- s, se + payload; check the remote.
    private async ValueTask<NoiseRemoteIdentity> RunResponderAsync(XXHandshakeState state, ITransportConnection raw,
        CancellationToken cancellationToken)
    {
        var first = await NoiseFraming.ReadMessageAsync(raw.Input, cancellationToken).ConfigureAwait(false);
        state.ReadMessage(first);
        await NoiseFraming.WriteMessageAsync(raw.Output, state.WriteMessage(_payload), cancellationToken).ConfigureAwait(false);
        var third = await NoiseFraming.ReadMessageAsync(raw.Input, cancellationToken).ConfigureAwait(false);
        var payload = state.ReadMessage(third);
        var remote = NoisePayload.Verify(payload, state.RemoteStaticPublicKey);
        CheckRemote(remote, expectedRemote: null);
        return remote;
    }

    private void CheckRemote(NoiseRemoteIdentity remote, PeerId? expectedRemote)
    {
        if (remote.PeerId == _identity.PeerId) throw new HandshakeException("cannot dial self");
        if (expectedRemote is not null && remote.PeerId != expectedRemote)
            throw new HandshakeException($"remote proved {remote.PeerId}, expected {expectedRemote}");
    }
}
