using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// Three mailbox nodes certified by a 1-of-1 devnet authority, on TCP 127.0.0.1 with SQLite stores under a folder,
/// their node records published and the genesis written: what the group, content and archive CLI tests talk to.
/// </summary>
internal sealed class CertifiedMailboxNodes : IAsyncDisposable
{
    private readonly DevnetAuthority _authority;
    private readonly List<Ed25519Identity> _keys;
    private readonly List<KontinuumNode> _nodes;
    private readonly List<KontinuumNodeOptions> _options = [];

    private CertifiedMailboxNodes(DevnetAuthority authority, List<Ed25519Identity> keys, List<KontinuumNode> nodes, string genesis)
    {
        _authority = authority;
        _keys = keys;
        _nodes = nodes;
        Genesis = genesis;
    }

    public IReadOnlyList<KontinuumNode> Nodes => _nodes;

    /// <summary>The genesis file of the network (for <c>--network</c>).</summary>
    public string Genesis { get; }

    /// <summary>Node 1's address (for <c>--bootstrap</c>).</summary>
    public string Bootstrap => _nodes[1].ListenAddresses[0].WithPeerId(_nodes[1].PeerId).ToString();

    /// <summary>The three peer ids, comma-separated (for <c>group create --mailboxes</c>).</summary>
    public string Slots => string.Join(',', _nodes.Take(3).Select(n => n.PeerId.ToString()));

    /// <summary>
    /// Starts the nodes; <paramref name="configure"/> may change node <c>i</c>'s options (its mailbox store is
    /// <c>DIR/node-i/mbx.db</c> unless changed: one folder per node, as the content store lives beside it).
    /// </summary>
    public static async Task<CertifiedMailboxNodes> StartAsync(string network, string directory, CancellationToken ct,
        Action<int, KontinuumNodeOptions>? configure = null)
    {
        var authority = new DevnetAuthority(network, 1, 1, TimeProvider.System);
        var keys = Enumerable.Range(0, 3).Select(_ => Ed25519Identity.Generate()).ToList();
        var nodes = new List<KontinuumNode>();
        var started = new CertifiedMailboxNodes(authority, keys, nodes, Path.Combine(directory, "genesis.json"));
        try
        {
            for (var i = 0; i < keys.Count; i++)
            {
                var options = new KontinuumNodeOptions
                {
                    Identity = keys[i],
                    Network = authority.Network,
                    Certificate = authority.IssueCertificate(keys[i], TimeSpan.FromDays(1), ["dht", "mailbox"]),
                    ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
                    ExtraBootstrapPeers = nodes.Count == 0 ? [] : [nodes[0].ListenAddresses[0].WithPeerId(nodes[0].PeerId)],
                    Mailbox = new MailboxServerOptions { Store = new MailboxStoreOptions { DatabasePath = Path.Combine(directory, $"node-{i}", "mbx.db") } },
                };
                configure?.Invoke(i, options);
                started._options.Add(options);
                nodes.Add(await KontinuumNode.StartAsync(options, ct));
            }
            foreach (var node in nodes) await node.PublishNodeRecordAsync(ct);
            await File.WriteAllTextAsync(started.Genesis, GenesisFile.Write(authority.Network), ct);
            return started;
        }
        catch
        {
            await started.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more node of this network (certified with <paramref name="capabilities"/> and <paramref name="provider"/>), bootstrapped from node 0 and disposed with the others.</summary>
    public async Task<KontinuumNode> StartExtraAsync(string[] capabilities, string provider, string directory, CancellationToken ct, Action<KontinuumNodeOptions>? configure = null)
    {
        var key = Ed25519Identity.Generate();
        _keys.Add(key);
        var options = new KontinuumNodeOptions
        {
            Identity = key,
            Network = _authority.Network,
            Certificate = _authority.IssueCertificate(key, TimeSpan.FromDays(1), capabilities, provider),
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            ExtraBootstrapPeers = [_nodes[0].ListenAddresses[0].WithPeerId(_nodes[0].PeerId)],
            DataDirectory = directory,
        };
        configure?.Invoke(options);
        var node = await KontinuumNode.StartAsync(options, ct);
        _nodes.Add(node);
        return node;
    }

    /// <summary>
    /// Stops node <paramref name="i"/> (one of the first three) and starts it again with the same identity and
    /// certificate, as <paramref name="configure"/> changes its options (e.g. empty folders: a mailbox node that lost
    /// its disk); it listens on a new port and publishes its node record again.
    /// </summary>
    public async Task<KontinuumNode> RestartAsync(int i, Action<KontinuumNodeOptions> configure, CancellationToken ct)
    {
        await _nodes[i].DisposeAsync();
        var options = _options[i];
        configure(options);
        _nodes[i] = await KontinuumNode.StartAsync(options, ct);
        await _nodes[i].PublishNodeRecordAsync(ct);
        return _nodes[i];
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes) await node.DisposeAsync();
        foreach (var key in _keys) key.Dispose();
        _authority.Dispose();
    }
}
