using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Node.Records;
using KontinuumP2P.Simulations.Network;

namespace KontinuumP2P.Simulations.Peers;

/// <summary>
/// One simulated node: a real <see cref="DhtNode"/> on a <see cref="SimulatedEndpoint"/>, with certificate admission,
/// its own <see cref="CrlTracker"/>, and the node-record and CRL routines of the Kontinuum node (publish its record,
/// fetch the CRL under every anchor key, re-judge peers and drop revoked ones from the routing table).
/// </summary>
public sealed class SimulatedPeer : IAsyncDisposable
{
    private readonly Ed25519Identity _identity;
    private readonly SimulatedNetwork _network;
    private readonly TimeSpan _crlRefreshInterval;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _crlLoop;
    private ulong _recordSequence;
    private int _disposed;

    internal SimulatedPeer(int index, PeerRole role, Ed25519Identity identity, Certificate? ownCertificate, SimulatedNetwork network,
        SimulatedEndpoint endpoint, SimulatedAdmission admission, CrlTracker crl, DhtNode dht, TimeSpan crlRefreshInterval)
    {
        Index = index;
        Role = role;
        _identity = identity;
        OwnCertificate = ownCertificate;
        _network = network;
        Endpoint = endpoint;
        Admission = admission;
        Crl = crl;
        Dht = dht;
        _crlRefreshInterval = crlRefreshInterval;
    }

    /// <summary>The node's number.</summary>
    public int Index { get; }

    /// <summary>How it behaves.</summary>
    public PeerRole Role { get; }

    /// <summary>Its id.</summary>
    public PeerId PeerId => _identity.PeerId;

    /// <summary>Its own certificate (null for nodes that have none).</summary>
    public Certificate? OwnCertificate { get; }

    /// <summary>Its attachment to the network.</summary>
    public SimulatedEndpoint Endpoint { get; }

    /// <summary>Its admission verdicts.</summary>
    public SimulatedAdmission Admission { get; }

    /// <summary>The CRL it holds.</summary>
    public CrlTracker Crl { get; }

    /// <summary>Its DHT node.</summary>
    public DhtNode Dht { get; }

    /// <summary>Whether it is attached and running.</summary>
    public bool Online { get; private set; }

    /// <summary>Starts the DHT (bootstrap, self lookup, refresh) and, for honest nodes, the periodic CRL refresh.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Online = true;
        await Dht.StartAsync(cancellationToken).ConfigureAwait(false);
        if (Role == PeerRole.Honest && _crlRefreshInterval > TimeSpan.Zero) _crlLoop = CrlRefreshLoopAsync(_stopping.Token);
    }

    /// <summary>Signs a fresh record of our certificate and address and puts it into the DHT; returns how many peers stored it.</summary>
    public Task<int> PublishRecordAsync(CancellationToken cancellationToken)
    {
        var certificate = OwnCertificate ?? throw new InvalidOperationException("a node without a certificate publishes no record");
        var record = NodeRecord.Create(certificate, Endpoint.LocalAddresses, ++_recordSequence, _identity);
        return Dht.PutValueAsync(RecordKeys.ForNode(PeerId), record.Encode(), cancellationToken);
    }

    /// <summary>Installs <paramref name="crl"/> and puts it into the DHT under every anchor key; returns how many stores succeeded.</summary>
    public async Task<int> PublishCrlAsync(Crl crl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(crl);
        if (!Install(crl).IsCurrent) return 0;
        var stored = 0;
        var bytes = crl.Encode();
        foreach (var anchor in Crl.Anchors.Current.Anchors)
            stored += await Dht.PutValueAsync(RecordKeys.ForCrl(anchor.PublicKey.Span), bytes, cancellationToken).ConfigureAwait(false);
        return stored;
    }

    /// <summary>Fetches the CRL under every anchor key (never from the local copy alone) and installs the newest.</summary>
    public async Task<CrlAcceptance?> RefreshCrlAsync(CancellationToken cancellationToken)
    {
        Crl? newest = null;
        foreach (var anchor in Crl.Anchors.Current.Anchors)
        {
            await foreach (var value in Dht.GetValueAsync(RecordKeys.ForCrl(anchor.PublicKey.Span), cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                var crl = Certs.Revocation.Crl.Decode(value.Record.Value.Span);
                if (newest is null || crl.Body.CrlNumber > newest.Body.CrlNumber) newest = crl;
            }
        }
        return newest is null ? null : Install(newest);
    }

    /// <summary>Offers <paramref name="crl"/> to the tracker; when accepted, re-judges peers and drops the revoked ones.</summary>
    public CrlAcceptance Install(Crl crl)
    {
        var acceptance = Crl.Accept(crl);
        if (acceptance.Status == CrlAcceptanceStatus.Accepted)
        {
            foreach (var peer in Admission.Rejudge()) Dht.RemovePeer(peer);
        }
        return acceptance;
    }

    /// <summary>Leaves: detaches from the network, then stops the DHT and the CRL refresh.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Online = false;
        _network.Detach(PeerId);
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_crlLoop is not null)
        {
            try
            {
                await _crlLoop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Expected when leaving.
            }
        }
        await Dht.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _identity.Dispose();
    }

    private async Task CrlRefreshLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_crlRefreshInterval, _network.Time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await RefreshCrlAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or TimeoutException or FormatException or CrlEquivocationException)
            {
                // A failed round is retried at the next tick, as on a real node.
            }
        }
    }
}
