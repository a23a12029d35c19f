using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Storage;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Dht.Tests.Fakes;

/// <summary>Many <see cref="DhtNode"/>s over one <see cref="FakeKadSwarm"/> in virtual time.</summary>
internal sealed class SimulatedDht : IAsyncDisposable
{
    private readonly Random _random;

    /// <param name="seed">Seed of peer ids and bootstrap choices.</param>
    /// <param name="clock">Wraps <see cref="Time"/> for the swarm and the nodes (e.g. to watch timers); null = as is.</param>
    public SimulatedDht(int seed, Func<FakeTimeProvider, TimeProvider>? clock = null)
    {
        _random = new Random(seed);
        Swarm = new FakeKadSwarm(clock?.Invoke(Time) ?? Time);
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));

    public FakeKadSwarm Swarm { get; }

    public List<DhtNode> Nodes { get; } = [];

    public static DhtOptions DefaultOptions(string protocol = DhtOptions.KontinuumProtocolId) => new()
    {
        ProtocolId = protocol,
        Validators = new KontinuumP2P.Dht.Records.RecordValidators().Add(SequenceValidator.Namespace, new SequenceValidator()),
    };

    /// <summary>Adds a started node that bootstrapped from up to two random earlier nodes (of any protocol).</summary>
    public async Task<DhtNode> AddNodeAsync(DhtOptions? options = null, IDhtStore? store = null, PeerId? peer = null, bool bootstrap = true)
    {
        options ??= DefaultOptions();
        var bootstrapPeers = bootstrap && Nodes.Count > 0
            ? Enumerable.Range(0, 2).Select(_ => Nodes[_random.Next(Nodes.Count)]).Distinct()
                .Select(n => Swarm.Endpoint(n.LocalPeer).LocalAddresses[0].WithPeerId(n.LocalPeer)).ToList()
            : [];
        var network = Swarm.Join(peer ?? TestPeers.Create(_random), options.ProtocolId);
        var node = new DhtNode(network, options with { BootstrapPeers = bootstrapPeers }, store);
        await node.StartAsync(CancellationToken.None);
        Nodes.Add(node);
        return node;
    }

    public async Task<List<DhtNode>> AddNodesAsync(int count, DhtOptions? options = null)
    {
        var added = new List<DhtNode>();
        for (var i = 0; i < count; i++) added.Add(await AddNodeAsync(options));
        return added;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes) await node.DisposeAsync();
    }
}
