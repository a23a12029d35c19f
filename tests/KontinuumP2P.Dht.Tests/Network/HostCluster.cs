using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Dht.Tests.Network;

/// <summary>Real hosts (Noise, Yamux, identify) over one in-memory network, each with a DHT node, in real time.</summary>
internal sealed class HostCluster : IAsyncDisposable
{
    private readonly MemoryNetwork _network = new();
    private readonly List<Ed25519Identity> _identities = [];
    private readonly List<PeerHost> _hosts = [];
    private readonly Random _random = new(42);

    public List<DhtNode> Nodes { get; } = [];

    /// <summary>Short timeouts: every peer is in-process, so a slow answer means a lost one.</summary>
    public static DhtOptions Options(string protocol = DhtOptions.KontinuumProtocolId) => new()
    {
        ProtocolId = protocol,
        Lookup = new KontinuumP2P.Dht.Lookup.LookupOptions { RequestTimeout = TimeSpan.FromSeconds(5), QueryTimeout = TimeSpan.FromSeconds(20) },
        Validators = new KontinuumP2P.Dht.Records.RecordValidators().Add(Fakes.SequenceValidator.Namespace, new Fakes.SequenceValidator()),
    };

    public async Task<DhtNode> AddAsync(DhtOptions options, CancellationToken cancellationToken, KontinuumP2P.Dht.Storage.IDhtStore? store = null)
    {
        var identity = Ed25519Identity.Generate();
        _identities.Add(identity);
        var host = new PeerHost(new PeerHostOptions
        {
            Identity = identity,
            Transports = [new MemoryTransport(_network)],
            ListenAddresses = [Multiaddr.Parse($"/memory/dht-{_hosts.Count}")],
        });
        _hosts.Add(host);
        await host.StartAsync(cancellationToken);
        var bootstrap = Nodes.Count == 0
            ? []
            : Enumerable.Range(0, 2).Select(_ => _hosts[_random.Next(Nodes.Count)]).Distinct()
                .Select(h => h.ListenAddresses[0].WithPeerId(h.PeerId)).ToList();
        var node = new DhtNode(host, options with { BootstrapPeers = bootstrap }, store);
        await node.StartAsync(cancellationToken);
        Nodes.Add(node);
        return node;
    }

    public PeerHost HostOf(DhtNode node) => _hosts[Nodes.IndexOf(node)];

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes) await node.DisposeAsync();
        foreach (var host in _hosts) await host.DisposeAsync();
        foreach (var identity in _identities) identity.Dispose();
    }
}
