using System.Diagnostics;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Devnet;

/// <summary>
/// The devnet's mailboxes: which nodes serve them (one per provider label), and a demo group of two devices (group
/// directories under <c>DIR/groups/</c>, clients on two other devnet nodes) that push and pull every round.
/// </summary>
internal sealed class DevnetMailboxes : IAsyncDisposable
{
    public static readonly string[] Providers = ["devnet-a", "devnet-b", "devnet-c"];

    private readonly List<(int Index, string Provider, KontinuumNode Node)> _servers;
    private readonly Dictionary<KontinuumNode, long> _lastPushes = [];
    private readonly List<GroupHealthLoop> _loops = [];
    private readonly GroupStore[] _stores;
    private readonly GroupClient[] _clients;
    private readonly int[] _pushed = new int[2];
    private readonly int[] _applied = new int[2];
    // Every id the demo devices pushed (one per device per round, so bounded by the run's rounds).
    private readonly HashSet<BlobId> _pushedIds = [];
    private long _lastRound = Stopwatch.GetTimestamp();
    private int _round;

    private DevnetMailboxes(List<(int, string, KontinuumNode)> servers, GroupStore[] stores, GroupClient[] clients, string directory)
    {
        _servers = servers;
        _stores = stores;
        _clients = clients;
        Directory = directory;
    }

    /// <summary>The first device's group directory.</summary>
    public string Directory { get; }

    public static MailboxServerOptions ServerOptions(string nodeDirectory, int index) => new()
    {
        // The first mailbox keeps blobs until every device acknowledged them; the others expire them by TTL.
        Store = new MailboxStoreOptions
        {
            DatabasePath = Path.Combine(nodeDirectory, "mailbox.db"),
            Role = index == 0 ? MailboxRole.Replica : MailboxRole.Ephemeral,
        },
    };

    /// <summary>
    /// Writes the demo group's two device directories under <c>DIR/groups/</c> (same group secret, the mailbox nodes
    /// as slots) with the <c>network.json</c> the CLI reads; directories that exist are kept. Returns the groups folder.
    /// </summary>
    public static string WriteGroup(string directory, string network, IReadOnlyList<string> slots, string genesis, string bootstrap)
    {
        var groups = Path.Combine(directory, "groups");
        using var secret = GroupSecret.Generate();
        foreach (var d in new[] { "device-a", "device-b" })
        {
            var path = Path.Combine(groups, d);
            if (!GroupStore.Exists(path)) GroupStore.Create(path, secret, network, slots, 1).Dispose();
            File.WriteAllText(Path.Combine(path, "network.json"), new System.Text.Json.Nodes.JsonObject
            {
                ["network"] = genesis,
                ["bootstrap"] = new System.Text.Json.Nodes.JsonArray(bootstrap),
            }.ToJsonString());
        }
        return groups;
    }

    /// <summary>The slot name of the i-th devnet mailbox (<c>mbx-a</c>, <c>mbx-b</c>, …), as HQ names it.</summary>
    public static string SlotName(int index) => $"mbx-{(char)('a' + index)}";

    public static DevnetMailboxes Create(IReadOnlyList<KontinuumNode> nodes, int mailboxNodes, string directory, bool useSlots)
    {
        var servers = nodes.Take(mailboxNodes).Select((n, i) => (i, Providers[i], n)).ToList();
        var slots = servers.Select(s => useSlots ? SlotName(s.i) : s.n.PeerId.ToString()).ToList();
        var groups = WriteGroup(directory, nodes[0].Network.Name, slots, Path.Combine(directory, "genesis.json"),
            nodes[0].ListenAddresses[0].WithPeerId(nodes[0].PeerId).ToString());
        var stores = new[] { "device-a", "device-b" }.Select(d => GroupStore.Open(Path.Combine(groups, d))).ToArray();
        // Devices run on the last nodes (clients of the mailboxes, like an app embedding a node).
        var clients = stores.Select((store, i) => nodes[nodes.Count - 1 - i].CreateGroupClient(store, new GroupClientOptions
        {
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PushTimeout = TimeSpan.FromSeconds(10),
        })).ToArray();
        return new DevnetMailboxes(servers, stores, clients, Path.Combine(groups, "device-a"));
    }

    /// <summary>Each device pushes one blob, flushes its outbox and pulls; returns the mailbox and group status.</summary>
    public async Task<(IReadOnlyList<DevnetMailboxStatus> Mailboxes, DevnetGroupStatus Group)> RunRoundAsync(CancellationToken cancellationToken)
    {
        _round++;
        for (var d = 0; d < 2; d++)
        {
            var payload = System.Text.Encoding.UTF8.GetBytes($"devnet round {_round} from device {(char)('a' + d)}");
            var pushed = await _clients[d].PushAsync(payload, cancellationToken).ConfigureAwait(false);
            lock (_pushedIds) _pushedIds.Add(pushed.Id);
            _pushed[d]++;
        }
        for (var d = 0; d < 2; d++)
        {
            await _clients[d].FlushAsync(all: false, cancellationToken).ConfigureAwait(false);
            var device = d;
            await _clients[d].PullAsync((_, _) =>
            {
                _applied[device]++;
                return ValueTask.CompletedTask;
            }, ack: true, cancellationToken).ConfigureAwait(false);
        }
        var elapsed = Math.Max(1e-3, Stopwatch.GetElapsedTime(_lastRound).TotalSeconds);
        _lastRound = Stopwatch.GetTimestamp();
        var mailboxes = new List<DevnetMailboxStatus>();
        List<(int Index, string Provider, KontinuumNode Node)> servers;
        lock (_servers) servers = [.. _servers];
        foreach (var (index, provider, node) in servers)
        {
            var statistics = node.MailboxServer?.Store.Statistics;
            var pushes = statistics?.Pushes ?? 0;
            mailboxes.Add(new DevnetMailboxStatus(index, provider, statistics?.Mailboxes ?? 0, statistics?.Blobs ?? 0, (pushes - _lastPushes.GetValueOrDefault(node)) / elapsed));
            _lastPushes[node] = pushes;
        }
        var pending = Math.Max(0, _pushed[1] - _applied[0]) + Math.Max(0, _pushed[0] - _applied[1]);
        return (mailboxes, new DevnetGroupStatus(Directory, _pushed.Sum(), _applied.Sum(), pending, _stores.Sum(s => s.OutboxCount())));
    }

    /// <summary>A mailbox node started later (a replacement); its index is its position among the devnet's nodes when added.</summary>
    public void AddServer(KontinuumNode node, string provider)
    {
        lock (_servers) _servers.Add((_servers.Count == 0 ? 0 : _servers.Max(s => s.Index) + 1, provider, node));
    }

    /// <summary>Forgets a stopped mailbox node.</summary>
    public void RemoveServer(KontinuumNode node)
    {
        lock (_servers) _servers.RemoveAll(s => ReferenceEquals(s.Node, node));
    }

    /// <summary>
    /// Of the blob ids the demo devices pushed, how many the mailbox on <paramref name="node"/> lacks in the current
    /// generation's <paramref name="slot"/>, read from its store page by page.
    /// </summary>
    public async Task<(int Pushed, int Missing)> MissingAtAsync(KontinuumNode? node, string slot, CancellationToken cancellationToken)
    {
        List<BlobId> pushed;
        lock (_pushedIds) pushed = [.. _pushedIds];
        if (node?.MailboxServer?.Store is not { } store || !_stores[0].Current.SlotKeys.TryGetValue(slot, out var keys)) return (pushed.Count, pushed.Count);
        var held = new HashSet<BlobId>();
        ulong cursor = 0;
        while (true)
        {
            var page = await store.ReadAfterAsync(keys.MailboxId, cursor, 512, 4 << 20, cancellationToken).ConfigureAwait(false);
            foreach (var blob in page.Blobs)
            {
                if (blob.BlobId.Length == BlobId.Length) held.Add(BlobId.FromDigest(blob.BlobId.Span));
            }
            if (page.Blobs.Count == 0 || !page.HasMore) break;
            cursor = page.Blobs[^1].Cursor;
        }
        return (pushed.Count, pushed.Count(id => !held.Contains(id)));
    }

    public IReadOnlyList<GroupHealthLoop> StartHealthLoops(GroupHealthOptions options)
    {
        if (_loops.Count > 0) throw new InvalidOperationException("the demo devices' health loops already run");
        foreach (var client in _clients) _loops.Add(client.StartHealthLoop(options));
        return _loops;
    }

    public async Task<IReadOnlyList<IReadOnlyList<MailboxStatus>>> ProbeAsync(CancellationToken cancellationToken)
    {
        var result = new List<IReadOnlyList<MailboxStatus>>();
        foreach (var client in _clients) result.Add(await client.StatusAsync(probe: true, cancellationToken).ConfigureAwait(false));
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var loop in _loops) await loop.DisposeAsync().ConfigureAwait(false);
        foreach (var client in _clients) await client.DisposeAsync().ConfigureAwait(false);
        foreach (var store in _stores) store.Dispose();
    }
}
