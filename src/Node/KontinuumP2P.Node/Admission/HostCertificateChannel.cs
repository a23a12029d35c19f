using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Threading;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Node.Admission;

/// <summary>
/// The certificate exchange over a libp2p host: serves <c>/kontinuum/cert/1.0.0</c> (see <see cref="CertificateExchange"/>)
/// and pushes our offer on every new connection, retrying a push the remote reset a bounded number of times.
/// </summary>
public sealed partial class HostCertificateChannel : ICertificateChannel
{
    private readonly IPeerHost _host;
    private readonly string _protocolId;
    private readonly TimeSpan _offerTimeout;
    private readonly ILogger _logger;
    private readonly BackgroundTasks _tasks;
    private ICertificateSink? _sink;
    private Certificate? _own;

    /// <summary>Creates the channel; nothing happens before <see cref="Start"/>.</summary>
    /// <param name="host">The host whose connections carry offers.</param>
    /// <param name="protocolId">The network's certificate protocol.</param>
    /// <param name="offerTimeout">How long one push or one inbound offer may take.</param>
    /// <param name="logger">Logging.</param>
    public HostCertificateChannel(IPeerHost host, string protocolId, TimeSpan offerTimeout, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = host;
        _protocolId = protocolId;
        _offerTimeout = offerTimeout;
        _logger = logger;
        _tasks = new BackgroundTasks(e => LogBackgroundFailure(_logger, e));
    }

    /// <inheritdoc />
    public void Start(ICertificateSink sink, Certificate? own)
    {
        _sink = sink ?? throw new ArgumentNullException(nameof(sink));
        _own = own;
        _host.SetHandler(_protocolId, HandleOfferAsync);
        _host.PeerConnected += OnPeerConnected;
        _host.PeerDisconnected += OnPeerDisconnected;
        _host.PeerIdentified += OnPeerIdentified;
        foreach (var connection in _host.Connections) OnPeerConnected(this, new PeerEventArgs(connection.RemotePeer, connection));
    }

    /// <inheritdoc />
    public async ValueTask StopAsync()
    {
        _host.PeerConnected -= OnPeerConnected;
        _host.PeerDisconnected -= OnPeerDisconnected;
        _host.PeerIdentified -= OnPeerIdentified;
        _host.RemoveHandler(_protocolId);
        await _tasks.DisposeAsync().ConfigureAwait(false);
    }

    private void OnPeerConnected(object? sender, PeerEventArgs e)
    {
        if (e.Connection is not { } connection) return;
        _sink!.OnConnected(e.Peer, connection.RemotePublicKey);
        _tasks.Run(token => PushOwnAsync(connection, token));
    }

    /// <inheritdoc />
    public bool IsConnected(Core.Identity.PeerId peer) => _host.Connections.Any(c => c.RemotePeer == peer);

    private void OnPeerDisconnected(object? sender, PeerEventArgs e) => _sink!.OnDisconnected(e.Peer);

    private void OnPeerIdentified(object? sender, PeerEventArgs e)
    {
        // Only a protocol list that says something counts: an empty one is an identify that told nothing.
        if (_host.PeerStore.Get(e.Peer) is not { Protocols.Count: > 0 } info) return;
        _sink!.OnIdentified(e.Peer, info.Protocols.Contains(_protocolId));
    }

    private async Task PushOwnAsync(IConnection connection, CancellationToken cancellationToken)
    {
        // Without our offer the peer never admits us on this connection, so a push the remote reset (seen when both
        // sides dial at once) is tried again, a bounded number of times.
        const int attempts = 3;
        for (var attempt = 1; attempt <= attempts; attempt++)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_offerTimeout);
                await CertificateExchange.SendAsync(connection, _protocolId, _own, timeout.Token).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ProtocolNotSupportedException)
            {
                LogPushFailed(_logger, connection.RemotePeer, e.Message);
                if (e is ProtocolNotSupportedException || cancellationToken.IsCancellationRequested || attempt == attempts) return;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), _host.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask HandleOfferAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        var peer = stream.Connection.RemotePeer;
        var key = stream.Connection.RemotePublicKey;
        if (!_sink!.TryAcceptOffer(peer))
        {
            // Each offer costs signature checks: a peer pushing them in a loop is not judged each time.
            LogPushFailed(_logger, peer, "offer rate over the per-peer limit");
            stream.Reset();
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_offerTimeout);
        Certificate? certificate;
        try
        {
            certificate = await CertificateExchange.ReceiveAsync(stream, timeout.Token).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            _sink!.OnMalformedOffer(peer, key, e.Message);
            ForgetIfGone(stream.Connection);
            return;
        }
        catch (IOException e)
        {
            // Nothing was offered (a stream closed early, a slow peer): not a verdict; the peer may offer again.
            LogPushFailed(_logger, peer, e.Message);
            return;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            LogPushFailed(_logger, peer, "no offer within the offer timeout");
            return;
        }
        _sink!.OnOffer(peer, key, certificate);
        ForgetIfGone(stream.Connection);
    }

    private void ForgetIfGone(IConnection connection)
    {
        // Gone meanwhile (its disconnect already reported): the verdict moves to admission's bounded memory instead.
        if (connection.IsClosed && !IsConnected(connection.RemotePeer)) _sink!.OnDisconnected(connection.RemotePeer);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "could not push our certificate to {Peer}: {Reason}")]
    private static partial void LogPushFailed(ILogger logger, Core.Identity.PeerId peer, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "certificate push task failed")]
    private static partial void LogBackgroundFailure(ILogger logger, Exception exception);
}
