using System.Diagnostics.Metrics;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Storage;
using KontinuumP2P.Node.Admission;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Simulations.Network;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Simulations.Peers;

/// <summary>
/// The transport of a simulated node: its <see cref="SimulatedEndpoint"/> instead of a libp2p host. Kad messages go
/// through the simulated network; the certificate exchange happens at first contact (what the endpoint presents is
/// handed to the node's real <see cref="CertificateAdmission"/>). Disposing detaches the node from the network.
/// </summary>
public sealed class SimulatedNodeTransport : INodeTransport
{
    private readonly SimulatedNetwork _network;

    /// <summary>Wraps an attached endpoint.</summary>
    public SimulatedNodeTransport(SimulatedNetwork network, SimulatedEndpoint endpoint)
    {
        _network = network;
        Endpoint = endpoint;
    }

    /// <summary>The endpoint.</summary>
    public SimulatedEndpoint Endpoint { get; }

    /// <inheritdoc />
    public PeerId LocalPeer => Endpoint.LocalPeer;

    /// <inheritdoc />
    public IPeerHost? Host => null;

    /// <inheritdoc />
    public IReadOnlyList<Multiaddr> ListenAddresses => Endpoint.LocalAddresses;

    /// <inheritdoc />
    public ValueTask ListenAsync(IReadOnlyList<Multiaddr> addresses, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <inheritdoc />
    public DhtNode CreateDht(DhtOptions options, IDhtStore? store, ILoggerFactory loggerFactory, IMeterFactory? meterFactory) =>
        new(Endpoint, options, store, loggerFactory, meterFactory);

    /// <inheritdoc />
    public ICertificateChannel CreateCertificateChannel(string protocolId, TimeSpan offerTimeout, ILoggerFactory loggerFactory) =>
        new ContactChannel(Endpoint);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _network.Detach(LocalPeer);
        return ValueTask.CompletedTask;
    }

    /// <summary>Offers seen at first contact: the endpoint's credentials stand for the pushed certificate.</summary>
    private sealed class ContactChannel(SimulatedEndpoint endpoint) : ICertificateChannel, IContactObserver
    {
        private ICertificateSink? _sink;

        public void Start(ICertificateSink sink, Certificate? own)
        {
            // What this node presents is fixed by its endpoint (an uncertified node may present a stolen certificate).
            _sink = sink;
            endpoint.Contacts = this;
        }

        // A simulated network has no connections to lose: every peer that ever made contact stays reachable.
        public bool IsConnected(PeerId peer) => true;

        public ValueTask StopAsync()
        {
            endpoint.Contacts = null;
            return ValueTask.CompletedTask;
        }

        public void OnContact(PeerCredentials peer)
        {
            // Called for every delivered message: judge once, as a real connection pushes once.
            if (_sink is not { } sink || sink.IsDecided(peer.PeerId)) return;
            sink.OnOffer(peer.PeerId, peer.EncodedPublicKey, peer.Certificate);
        }
    }
}
