using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Mailbox.Tests.Content;

/// <summary>
/// Mailbox nodes for content tests: each a libp2p host on TCP 127.0.0.1 serving a <see cref="MailboxServer"/> (SQLite)
/// and a <see cref="ContentServer"/> (its folder) side by side, as a node composes them; plus client hosts and a group
/// whose slot keys authorise puts.
/// </summary>
internal sealed class ContentFleet : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<Ed25519Identity> _identities = [];
    private readonly byte[] _deviceSecret = System.Security.Cryptography.RandomNumberGenerator.GetBytes(GroupKeys.DeviceSecretLength);

    private ContentFleet(string directory)
    {
        Directory = directory;
        Keys = new GroupKeys(GroupSecret.Generate());
    }

    public string Directory { get; }

    public GroupKeys Keys { get; }

    public List<Node> Nodes { get; } = [];

    public static async Task<ContentFleet> StartAsync(int nodes, Func<int, ContentServerOptions, ContentServerOptions>? configure = null)
    {
        var fleet = new ContentFleet(Path.Combine(Path.GetTempPath(), "kp-content-" + Guid.NewGuid().ToString("N")));
        System.IO.Directory.CreateDirectory(fleet.Directory);
        for (var i = 0; i < nodes; i++)
        {
            var node = new Node(fleet, i, Ed25519Identity.Generate(), configure);
            fleet._identities.Add(node.Identity);
            await node.StartAsync();
            fleet.Nodes.Add(node);
        }
        return fleet;
    }

    /// <summary>Holders with the group's keys for each node's slot (as <see cref="ContentHolder.ForGroupAsync"/> builds them).</summary>
    public IReadOnlyList<ContentHolder> Holders(params int[] which) =>
        [.. (which.Length == 0 ? Enumerable.Range(0, Nodes.Count) : which).Select(i =>
        {
            var slot = Keys.ForSlot($"slot-{i}");
            return new ContentHolder(Nodes[i].PeerId, [Nodes[i].Address], slot, GroupKeys.DeviceId(_deviceSecret, slot));
        })];

    public async Task<PeerHost> ClientHostAsync()
    {
        var identity = Ed25519Identity.Generate();
        _identities.Add(identity);
        var host = new PeerHost(new PeerHostOptions
        {
            Identity = identity,
            Transports = [new TcpTransport()],
            YamuxOptions = new KontinuumP2P.Net.Muxing.YamuxOptions { InitialStreamWindow = 4 << 20 },
        });
        await host.StartAsync(CancellationToken.None);
        _owned.Add(host);
        return host;
    }

    public string NewFile(string name, int size, int seed, ReadOnlySpan<byte> marker = default)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        for (var at = 0; !marker.IsEmpty && at + marker.Length <= size; at += 4096) marker.CopyTo(bytes.AsSpan(at));
        var path = Path.Combine(Directory, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned) await owned.DisposeAsync();
        foreach (var node in Nodes) await node.StopAsync();
        foreach (var identity in _identities) identity.Dispose();
        Keys.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    internal sealed class Node(ContentFleet fleet, int index, Ed25519Identity identity, Func<int, ContentServerOptions, ContentServerOptions>? configure)
    {
        private PeerHost? _host;

        public Ed25519Identity Identity { get; } = identity;

        public PeerId PeerId => Identity.PeerId;

        public Multiaddr Address { get; private set; } = Multiaddr.Parse("/ip4/127.0.0.1/tcp/0");

        public MailboxServer? Mailbox { get; private set; }

        public ContentServer? Content { get; private set; }

        public string ContentDirectory => Path.Combine(fleet.Directory, $"node-{index}-content");

        public string MailboxDatabase => Path.Combine(fleet.Directory, $"node-{index}.db");

        public async Task StartAsync()
        {
            var host = new PeerHost(new PeerHostOptions
            {
                Identity = Identity,
                Transports = [new TcpTransport()],
                ListenAddresses = [Address],
                InboundStreamLimits = new Dictionary<string, int> { [MailboxProtocol.ProtocolId] = 256, [ContentProtocol.ProtocolId] = 256 },
            });
            await host.StartAsync(CancellationToken.None);
            Address = host.ListenAddresses[0];
            Mailbox = await MailboxServer.StartAsync(host, new MailboxServerOptions
            {
                Store = new MailboxStoreOptions { DatabasePath = MailboxDatabase },
                ShutdownTimeout = TimeSpan.FromSeconds(2),
            });
            var options = new ContentServerOptions { Store = new ContentStoreOptions { Directory = ContentDirectory }, ShutdownTimeout = TimeSpan.FromSeconds(2) };
            Content = ContentServer.Start(host, configure?.Invoke(index, options) ?? options, Mailbox.Store);
            _host = host;
        }

        public async Task StopAsync()
        {
            if (Content is { } content) await content.DisposeAsync();
            if (Mailbox is { } mailbox) await mailbox.DisposeAsync();
            if (_host is { } host) await host.DisposeAsync();
            Content = null;
            Mailbox = null;
            _host = null;
        }

        public IEnumerable<string> StoreFiles =>
            System.IO.Directory.GetFiles(fleet.Directory, $"node-{index}*", SearchOption.TopDirectoryOnly)
                .Concat(System.IO.Directory.Exists(ContentDirectory) ? System.IO.Directory.GetFiles(ContentDirectory, "*", SearchOption.AllDirectories) : []);
    }
}
