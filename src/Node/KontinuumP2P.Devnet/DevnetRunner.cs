using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Devnet;

/// <summary>
/// Runs a local Kontinuum network in this process: a genesis with fresh anchors, N certified nodes on loopback TCP
/// that join one DHT, their node records and a first CRL published, and rounds of record lookups.
/// </summary>
public sealed class DevnetRunner : IAsyncDisposable
{
    private readonly DevnetOptions _options;
    private readonly DevnetAuthority _authority;
    private readonly List<KontinuumNode> _nodes = [];
    private readonly List<Ed25519Identity> _identities = [];
    private readonly long _started;
    private readonly bool _ownsDirectory;
    private DevnetMailboxes? _mailboxes;

    private DevnetRunner(DevnetOptions options, DevnetAuthority authority, string directory)
    {
        _options = options;
        _ownsDirectory = options.Directory is null;
        _authority = authority;
        Directory = directory;
        _started = Stopwatch.GetTimestamp();
    }

    /// <summary>Where the genesis and node state live (a temporary folder, removed at dispose, unless one was given).</summary>
    public string Directory { get; }

    /// <summary>The nodes.</summary>
    public IReadOnlyList<KontinuumNode> Nodes => _nodes;

    /// <summary>The devnet's Tier 0 (for revocation experiments).</summary>
    public DevnetAuthority Authority => _authority;

    /// <summary>Creates the genesis, starts the nodes and publishes records and the first CRL.</summary>
    /// <exception cref="ValidationException">Invalid options.</exception>
    public static async Task<DevnetRunner> StartAsync(DevnetOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        if (options.Threshold > options.Anchors) throw new ValidationException("Threshold: more signatures required than anchors");
        var directory = options.Directory ?? Path.Combine(Path.GetTempPath(), "kontinuum-devnet-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(directory);
        var runner = new DevnetRunner(options, new DevnetAuthority("devnet", options.Anchors, options.Threshold, options.TimeProvider), directory);
        try
        {
            await runner.StartNodesAsync(cancellationToken).ConfigureAwait(false);
            return runner;
        }
        catch
        {
            await runner.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Every node looks up every other node's record; returns the status afterwards.</summary>
    public async Task<DevnetStatus> RunLookupRoundAsync(CancellationToken cancellationToken)
    {
        var durations = new List<double>();
        var resolved = new int[_nodes.Count];
        var failures = 0;
        for (var i = 0; i < _nodes.Count; i++)
        {
            for (var j = 0; j < _nodes.Count; j++)
            {
                if (i == j) continue;
                var watch = Stopwatch.StartNew();
                var record = await _nodes[i].ResolveNodeAsync(_nodes[j].PeerId, cancellationToken).ConfigureAwait(false);
                durations.Add(watch.Elapsed.TotalMilliseconds);
                if (record is not null && record.PeerId == _nodes[j].PeerId) resolved[i]++;
                else failures++;
            }
        }
        durations.Sort();
        var mailboxes = _mailboxes is null ? default : await _mailboxes.RunRoundAsync(cancellationToken).ConfigureAwait(false);
        var median = durations.Count == 0 ? 0 : durations[durations.Count / 2];
        var lines = _nodes.Select((n, i) => new DevnetNodeStatus(i, n.PeerId.ToString(),
            n.ListenAddresses.FirstOrDefault()?.WithPeerId(n.PeerId).ToString() ?? "", n.Dht.RoutingTableSize, resolved[i],
            _nodes.Count - 1, n.CurrentCrl?.Body.CrlNumber ?? 0, n.CrlIsStale)).ToList();
        return new DevnetStatus(_authority.Network.Name, Directory, lines, durations.Count, failures, median,
            Stopwatch.GetElapsedTime(_started).TotalSeconds)
        {
            Mailboxes = mailboxes.Mailboxes ?? [],
            Group = mailboxes.Group,
            Archive = _nodes.Count > 0 ? await DevnetArchive.StatusAsync(_nodes[0], Directory, cancellationToken).ConfigureAwait(false) : null,
        };
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_mailboxes is not null) await _mailboxes.DisposeAsync().ConfigureAwait(false);
        foreach (var node in _nodes) await node.DisposeAsync().ConfigureAwait(false);
        _nodes.Clear();
        foreach (var identity in _identities) identity.Dispose();
        _authority.Dispose();
        if (_ownsDirectory)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a temporary folder someone still has open is left for the OS to clean.
            }
        }
    }

    private async Task StartNodesAsync(CancellationToken cancellationToken)
    {
        var network = _authority.Network;
        await File.WriteAllTextAsync(Path.Combine(Directory, "genesis.json"), GenesisFile.Write(network), cancellationToken).ConfigureAwait(false);
        Multiaddr? first = null;
        // The demo group's two devices run on the last two nodes, which must not be mailboxes of that group (a device
        // would dial itself): with fewer than MailboxNodes + 2 nodes, fewer nodes serve mailboxes.
        var mailboxNodes = Math.Min(_options.MailboxNodes, Math.Max(0, _options.Nodes - 2));
        for (var i = 0; i < _options.Nodes; i++)
        {
            var identity = Ed25519Identity.Generate();
            _identities.Add(identity);
            var node = await new KontinuumNodeBuilder(new KontinuumNodeOptions
            {
                Identity = identity,
                Network = network,
                // The first nodes also serve mailboxes, each on its own provider label.
                Certificate = i < mailboxNodes
                    ? _authority.IssueCertificate(identity, TimeSpan.FromDays(30), ["dht", "mailbox"], DevnetMailboxes.Providers[i])
                    : _authority.IssueCertificate(identity, TimeSpan.FromDays(30)),
                Mailbox = i < mailboxNodes ? DevnetMailboxes.ServerOptions(Path.Combine(Directory, $"node-{i}"), i) : null,
                Archive = i == 0 && mailboxNodes > 0 ? DevnetArchive.Options(Directory) : null,
                ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
                ExtraBootstrapPeers = first is null ? [] : [first],
                DataDirectory = Path.Combine(Directory, $"node-{i}"),
            }).UseTimeProvider(_options.TimeProvider).UseLoggerFactory(_options.LoggerFactory).UseMeterFactory(_options.MeterFactory)
                .StartAsync(cancellationToken).ConfigureAwait(false);
            _nodes.Add(node);
            first ??= node.ListenAddresses[0].WithPeerId(node.PeerId);
        }
        // Records published while the network was still forming reached few peers: publish again now all have joined.
        foreach (var node in _nodes) await node.Dht.RefreshAsync(cancellationToken).ConfigureAwait(false);
        foreach (var node in _nodes) await node.PublishNodeRecordAsync(cancellationToken).ConfigureAwait(false);
        await _nodes[0].PublishCrlAsync(_authority.IssueCrl([], TimeSpan.FromDays(1)), cancellationToken).ConfigureAwait(false);
        foreach (var node in _nodes.Skip(1)) await node.RefreshCrlAsync(cancellationToken).ConfigureAwait(false);
        if (mailboxNodes > 0) _mailboxes = DevnetMailboxes.Create(_nodes, mailboxNodes, Directory);
    }

    /// <summary>The first device's directory of the demo group, when mailboxes run.</summary>
    public string? GroupDirectory => _mailboxes?.Directory;
}
