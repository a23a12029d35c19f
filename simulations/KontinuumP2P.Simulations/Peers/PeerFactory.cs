using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Simulations.Network;

namespace KontinuumP2P.Simulations.Peers;

/// <summary>DHT and node settings shared by every simulated peer.</summary>
public sealed record PeerSettings
{
    /// <summary>Lookup parameters (α, β, disjoint paths, timeouts).</summary>
    public LookupOptions Lookup { get; init; } = new();

    /// <summary>Routing-table refresh interval.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How often honest nodes fetch the CRL; zero turns the refresh off.</summary>
    public TimeSpan CrlRefreshInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Validity of issued certificates.</summary>
    public TimeSpan CertificateValidity { get; init; } = TimeSpan.FromDays(365);
}

/// <summary>
/// Creates simulated peers: deterministic identities and addresses from the node number, certificates from the
/// <see cref="SimulatedAuthority"/>, a <see cref="KontinuumNode"/> from the node's own <see cref="KontinuumNodeBuilder"/> on a
/// <see cref="SimulatedNodeTransport"/> and the virtual clock, and misbehaviour by role (presented credentials, answer rewriters).
/// </summary>
public sealed class PeerFactory
{
    private readonly SimulatedNetwork _network;
    private readonly SimulatedAuthority _authority;
    private readonly TrustAnchors _anchors;
    private readonly PeerSettings _settings;
    private readonly long _seed;
    private readonly List<Colluder> _colluders = [];

    /// <summary>Creates the factory.</summary>
    /// <param name="network">The network peers attach to.</param>
    /// <param name="authority">The Tier 0.</param>
    /// <param name="settings">Shared settings.</param>
    /// <param name="seed">The scenario seed.</param>
    public PeerFactory(SimulatedNetwork network, SimulatedAuthority authority, PeerSettings settings, long seed)
    {
        _network = network;
        _authority = authority;
        _settings = settings;
        _seed = seed;
        // One trust object for everyone: its cache of verified signatures only saves CPU (every verdict still checks
        // thresholds, validity and the node's own CRL), and the simulation would otherwise spend most of its time in Ed25519.
        _anchors = TrustAnchors.Create(authority.Anchors, network.Time);
    }

    /// <summary>Kademlia k: results per lookup and entries per bucket.</summary>
    public int ResultCount => _settings.Lookup.ResultCount;

    /// <summary>The CRL every new node starts with (null: none).</summary>
    public Crl? InitialCrl { get; set; }

    /// <summary>The address of node <paramref name="index"/>: one IPv4 /16 per node, so diversity limits never bind.</summary>
    public static Multiaddr AddressOf(int index) => Multiaddr.Parse($"/ip4/{11 + (index >> 8)}.{index & 255}.0.1/tcp/4001");

    /// <summary>Creates (not yet started) node <paramref name="index"/> with <paramref name="role"/>.</summary>
    /// <param name="index">Its number (unique in the run).</param>
    /// <param name="role">Its behaviour.</param>
    /// <param name="bootstrap">Peers it joins through.</param>
    /// <param name="stolenCertificate">For <see cref="PeerRole.Uncertified"/>: a certificate of another node it presents, or null for none.</param>
    public SimulatedPeer Create(int index, PeerRole role, IReadOnlyList<Multiaddr> bootstrap, Certificate? stolenCertificate = null)
    {
        var identity = SimulatedAuthority.NodeIdentity(_seed, index);
        var own = role == PeerRole.Uncertified ? null : _authority.IssueCertificate(identity, _settings.CertificateValidity);
        var presented = role == PeerRole.Uncertified ? stolenCertificate : own;
        var credentials = new PeerCredentials(identity.PeerId, identity.PublicKey, presented);
        var endpoint = _network.Attach(index, credentials, AddressOf(index), DhtOptions.KontinuumProtocolId);
        if (role.IsAttacker())
        {
            var colluder = new Colluder(new KadPeer(identity.PeerId, endpoint.LocalAddresses), KadId.FromPeer(identity.PeerId));
            lock (_colluders) _colluders.Add(colluder);
            endpoint.Rewriter = Misbehaviour.For(role, Colluders, _settings.Lookup.ResultCount);
        }
        var options = new KontinuumNodeOptions
        {
            Identity = identity,
            Network = _authority.Network,
            Certificate = own,
            ListenAddresses = [.. endpoint.LocalAddresses],
            ExtraBootstrapPeers = [.. bootstrap],
            DhtMode = DhtMode.Server,
            // Records are published when the scenario says so; only honest nodes fetch the CRL.
            PublishNodeRecord = false,
            CrlRefreshInterval = role == PeerRole.Honest ? _settings.CrlRefreshInterval : TimeSpan.Zero,
            // Peers are judged again when a CRL arrives (scenario-driven); no free-running re-judge timer, so that
            // verdicts change only at the scenario's events and a seed replays exactly.
            AdmissionLimits = new() { RejudgeInterval = TimeSpan.Zero },
            ConfigureDht = dht => dht with
            {
                RandomSeed = (int)Mix.Hash(_seed, index, 0, 0, 7),
                Lookup = _settings.Lookup,
                RefreshInterval = _settings.RefreshInterval,
            },
        };
        // The node's own composition; only the transport and the clock are the simulation's.
        var node = new KontinuumNodeBuilder(options)
            .UseTimeProvider(_network.Time)
            .UseTransport(_ => new SimulatedNodeTransport(_network, endpoint))
            .UseSharedTrustAnchors(_anchors)
            .Build();
        if (InitialCrl is not null) node.InstallCrl(InitialCrl);
        return new SimulatedPeer(index, role, identity, own, _network, endpoint, node);
    }

    private IReadOnlyList<Colluder> Colluders()
    {
        lock (_colluders) return [.. _colluders];
    }
}
