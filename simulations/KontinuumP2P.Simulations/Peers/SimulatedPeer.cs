using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Node.Admission;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Simulations.Network;

namespace KontinuumP2P.Simulations.Peers;

/// <summary>
/// One simulated node: a real <see cref="KontinuumNode"/> (admission, DHT, validators, record and CRL routines, built by
/// the node's own composition) whose transport is a <see cref="SimulatedEndpoint"/> and whose clock is virtual.
/// </summary>
public sealed class SimulatedPeer : IAsyncDisposable
{
    private readonly Ed25519Identity _identity;
    private readonly SimulatedNetwork _network;
    private int _disposed;

    internal SimulatedPeer(int index, PeerRole role, Ed25519Identity identity, Certificate? ownCertificate, SimulatedNetwork network,
        SimulatedEndpoint endpoint, KontinuumNode node)
    {
        _network = network;
        Index = index;
        Role = role;
        _identity = identity;
        OwnCertificate = ownCertificate;
        Endpoint = endpoint;
        Node = node;
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

    /// <summary>The node.</summary>
    public KontinuumNode Node { get; }

    /// <summary>Its admission verdicts.</summary>
    public CertificateAdmission Admission => Node.Admission!;

    /// <summary>The CRL it holds.</summary>
    public CrlTracker Crl => Node.Revocations!;

    /// <summary>Its DHT node.</summary>
    public DhtNode Dht => Node.Dht;

    /// <summary>Whether it is attached and running.</summary>
    public bool Online { get; private set; }

    /// <summary>Starts the node (DHT bootstrap, self lookup, refresh and, for honest nodes, the periodic CRL refresh).</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        Online = true;
        return Node.StartAsync(cancellationToken);
    }

    /// <summary>Signs a fresh record of our certificate and address and puts it into the DHT; returns how many peers stored it.</summary>
    public Task<int> PublishRecordAsync(CancellationToken cancellationToken) => Node.PublishNodeRecordAsync(cancellationToken);

    /// <summary>Installs <paramref name="crl"/> and puts it into the DHT under every anchor key; returns how many stores succeeded.</summary>
    public async Task<int> PublishCrlAsync(Crl crl, CancellationToken cancellationToken) =>
        (await Node.PublishCrlAsync(crl, cancellationToken).ConfigureAwait(false)).Stored;

    /// <summary>Fetches the CRL as the node does (every anchor key, disjoint paths) and installs the newest.</summary>
    public Task<CrlAcceptance?> RefreshCrlAsync(CancellationToken cancellationToken) => Node.RefreshCrlAsync(cancellationToken);

    /// <summary>Offers <paramref name="crl"/> to the node; when accepted, it re-judges peers and drops the revoked ones.</summary>
    public CrlAcceptance Install(Crl crl) => Node.InstallCrl(crl);

    /// <summary>Leaves: detaches from the network, then stops the node.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Online = false;
        // Unreachable at once, as a node that leaves; then the node stops its loops, DHT and admission.
        _network.Detach(PeerId);
        await Node.DisposeAsync().ConfigureAwait(false);
        _identity.Dispose();
    }
}
