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

    private readonly List<(int Index, KontinuumNode Node)> _servers;
    private readonly GroupStore[] _stores;
    private readonly GroupClient[] _clients;
    private readonly int[] _pushed = new int[2];
    private readonly int[] _applied = new int[2];
    private readonly long[] _lastPushes;
    private long _lastRound = Stopwatch.GetTimestamp();
    private int _round;

    private DevnetMailboxes(List<(int, KontinuumNode)> servers, GroupStore[] stores, GroupClient[] clients, string directory)
    {
        _servers = servers;
        _stores = stores;
        _clients = clients;
        Directory = directory;
        _lastPushes = new long[servers.Count];
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

    public static DevnetMailboxes Create(IReadOnlyList<KontinuumNode> nodes, int mailboxNodes, string directory)
    {
        var servers = nodes.Take(mailboxNodes).Select((n, i) => (i, n)).ToList();
        var slots = servers.Select(s => s.n.PeerId.ToString()).ToList();
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
            await _clients[d].PushAsync(payload, cancellationToken).ConfigureAwait(false);
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
        for (var i = 0; i < _servers.Count; i++)
        {
            var (index, node) = _servers[i];
            var statistics = node.MailboxServer?.Store.Statistics;
            var pushes = statistics?.Pushes ?? 0;
            mailboxes.Add(new DevnetMailboxStatus(index, Providers[i], statistics?.Mailboxes ?? 0, statistics?.Blobs ?? 0, (pushes - _lastPushes[i]) / elapsed));
            _lastPushes[i] = pushes;
        }
        var pending = Math.Max(0, _pushed[1] - _applied[0]) + Math.Max(0, _pushed[0] - _applied[1]);
        return (mailboxes, new DevnetGroupStatus(Directory, _pushed.Sum(), _applied.Sum(), pending, _stores.Sum(s => s.OutboxCount())));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients) await client.DisposeAsync().ConfigureAwait(false);
        foreach (var store in _stores) store.Dispose();
    }
}
