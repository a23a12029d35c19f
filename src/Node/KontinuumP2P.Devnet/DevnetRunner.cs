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

    /// <summary>The nodes running now.</summary>
    public IReadOnlyList<KontinuumNode> Nodes
    {
        get
        {
            lock (_nodes) return [.. _nodes];
        }
    }

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
        var runner = new DevnetRunner(options, options.Authority ?? new DevnetAuthority("devnet", options.Anchors, options.Threshold, options.TimeProvider), directory);
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
        var nodes = Nodes; // a spare may join while the round runs
        var durations = new List<double>();
        var resolved = new int[nodes.Count];
        var failures = 0;
        for (var i = 0; i < nodes.Count; i++)
        {
            for (var j = 0; j < nodes.Count; j++)
            {
                if (i == j) continue;
                var watch = Stopwatch.StartNew();
                var record = await nodes[i].ResolveNodeAsync(nodes[j].PeerId, cancellationToken).ConfigureAwait(false);
                durations.Add(watch.Elapsed.TotalMilliseconds);
                if (record is not null && record.PeerId == nodes[j].PeerId) resolved[i]++;
                else failures++;
            }
        }
        durations.Sort();
        var mailboxes = _mailboxes is null ? default : await _mailboxes.RunRoundAsync(cancellationToken).ConfigureAwait(false);
        var median = durations.Count == 0 ? 0 : durations[durations.Count / 2];
        var lines = nodes.Select((n, i) => new DevnetNodeStatus(i, n.PeerId.ToString(),
            n.ListenAddresses.FirstOrDefault()?.WithPeerId(n.PeerId).ToString() ?? "", n.Dht.RoutingTableSize, resolved[i],
            nodes.Count - 1, n.CurrentCrl?.Body.CrlNumber ?? 0, n.CrlIsStale)).ToList();
        return new DevnetStatus(_authority.Network.Name, Directory, lines, durations.Count, failures, median,
            Stopwatch.GetElapsedTime(_started).TotalSeconds)
        {
            Mailboxes = mailboxes.Mailboxes ?? [],
            Group = mailboxes.Group,
            Archive = nodes.Count > 0 ? await DevnetArchive.StatusAsync(nodes[0], Directory, cancellationToken).ConfigureAwait(false) : null,
            Holders = DevnetArchive.Holders(nodes),
        };
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_mailboxes is not null) await _mailboxes.DisposeAsync().ConfigureAwait(false);
        foreach (var node in Nodes) await node.DisposeAsync().ConfigureAwait(false);
        lock (_nodes) _nodes.Clear();
        foreach (var identity in _identities) identity.Dispose();
        if (_options.Authority is null) _authority.Dispose();
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
            // The first nodes also serve mailboxes, each on its own provider label.
            var certificate = DevnetArchive.Certificate(_authority, identity, TimeSpan.FromDays(30), i, i < mailboxNodes ? DevnetMailboxes.Providers[i] : null);
            var node = await StartNodeAsync(identity, certificate, Path.Combine(Directory, $"node-{i}"), i < mailboxNodes ? i : null,
                archive: i == 0 && mailboxNodes > 0, holder: DevnetArchive.IsHolder(i), first is null ? _options.BootstrapPeers : [first], cancellationToken).ConfigureAwait(false);
            _nodes.Add(node);
            first ??= node.ListenAddresses[0].WithPeerId(node.PeerId);
        }
        // Records published while the network was still forming reached few peers: publish again now all have joined.
        foreach (var node in _nodes) await node.Dht.RefreshAsync(cancellationToken).ConfigureAwait(false);
        foreach (var node in _nodes) await node.PublishNodeRecordAsync(cancellationToken).ConfigureAwait(false);
        // Holders announced at start to a network of few nodes: announce again so the pusher finds them at once.
        foreach (var node in _nodes)
        {
            if (node.ArchiveHolder is { } holder) await holder.AnnounceAsync(cancellationToken).ConfigureAwait(false);
        }
        await _nodes[0].PublishCrlAsync(_authority.IssueCrl([], TimeSpan.FromDays(1)), cancellationToken).ConfigureAwait(false);
        foreach (var node in _nodes.Skip(1)) await node.RefreshCrlAsync(cancellationToken).ConfigureAwait(false);
        if (mailboxNodes > 0) _mailboxes = DevnetMailboxes.Create(_nodes, mailboxNodes, Directory, _options.GroupUsesSlots);
    }

    // Every devnet node, the spares started later included, is composed here.
    private Task<KontinuumNode> StartNodeAsync(Ed25519Identity identity, KontinuumP2P.Certs.Certificates.Certificate certificate, string directory,
        int? mailboxIndex, bool archive, bool holder, IReadOnlyList<Multiaddr> bootstrap, CancellationToken cancellationToken) =>
        new KontinuumNodeBuilder(new KontinuumNodeOptions
        {
            Identity = identity,
            Network = _authority.Network,
            Certificate = certificate,
            Mailbox = mailboxIndex is { } m ? DevnetMailboxes.ServerOptions(directory, m) : null,
            Health = mailboxIndex is null ? null : _options.MailboxHealth,
            Archive = archive ? DevnetArchive.Options(Directory, _options.Nodes) : null,
            ArchiveHolder = holder ? DevnetArchive.HolderOptions(directory) : null,
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            ExtraBootstrapPeers = [.. bootstrap],
            DataDirectory = directory,
        }).UseTimeProvider(_options.TimeProvider).UseLoggerFactory(_options.LoggerFactory).UseMeterFactory(_options.MeterFactory)
            .StartAsync(cancellationToken);

    /// <summary>
    /// Starts one more mailbox node (an ephemeral mailbox, on the provider its certificate names) through the same
    /// composition as the others, bootstrapping from node 0; it joins the mailbox rows of the status. The runner
    /// disposes it; <paramref name="identity"/> stays the caller's.
    /// </summary>
    public async Task<KontinuumNode> StartMailboxNodeAsync(Ed25519Identity identity, KontinuumP2P.Certs.Certificates.Certificate certificate, string directory,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(certificate);
        if (_nodes.Count == 0) throw new InvalidOperationException("the devnet has no node to bootstrap from");
        var first = _nodes[0];
        // Index 1: an ephemeral mailbox (index 0 is the replica).
        var node = await StartNodeAsync(identity, certificate, directory, mailboxIndex: 1, archive: false, holder: false,
            [first.ListenAddresses[0].WithPeerId(first.PeerId)], cancellationToken).ConfigureAwait(false);
        lock (_nodes) _nodes.Add(node);
        await node.Dht.RefreshAsync(cancellationToken).ConfigureAwait(false);
        await node.PublishNodeRecordAsync(cancellationToken).ConfigureAwait(false);
        _mailboxes?.AddServer(node, certificate.Body.Provider);
        return node;
    }

    /// <summary>
    /// Stops node <paramref name="peerId"/> at once: disposed without waiting for its peers or flushing anything to
    /// them — the in-process stand-in for <c>kill -9</c> (its sockets close, so peers see resets rather than silence).
    /// Returns false when no running node has that id.
    /// </summary>
    public async Task<bool> StopNodeAsync(PeerId peerId, CancellationToken cancellationToken)
    {
        KontinuumNode? node;
        lock (_nodes)
        {
            node = _nodes.FirstOrDefault(n => n.PeerId.Equals(peerId));
            if (node is null) return false;
            _nodes.Remove(node);
        }
        _mailboxes?.RemoveServer(node);
        cancellationToken.ThrowIfCancellationRequested();
        await node.DisposeAsync().ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Starts the demo devices' health loops (<see cref="KontinuumP2P.Mailbox.Client.GroupClient.StartHealthLoop"/>):
    /// they report unreachable mailboxes, follow moved slots and re-seed replacements. The runner stops them at dispose.
    /// </summary>
    /// <exception cref="InvalidOperationException">No mailboxes run, or the loops already run.</exception>
    public IReadOnlyList<KontinuumP2P.Mailbox.Client.GroupHealthLoop> StartDemoHealthLoops(KontinuumP2P.Mailbox.Client.GroupHealthOptions options) =>
        (_mailboxes ?? throw new InvalidOperationException("the devnet runs no mailboxes")).StartHealthLoops(options);

    /// <summary>What each demo device sees of its mailboxes now (probing each).</summary>
    public async Task<IReadOnlyList<IReadOnlyList<KontinuumP2P.Mailbox.Client.MailboxStatus>>> DemoMailboxStatusAsync(CancellationToken cancellationToken) =>
        _mailboxes is null ? [] : await _mailboxes.ProbeAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Checks by blob id that the mailbox node <paramref name="peerId"/> holds, for <paramref name="slot"/>, every blob
    /// the demo devices pushed: returns how many were pushed and how many of those it lacks (all, when the node is not
    /// a running mailbox).
    /// </summary>
    /// <exception cref="InvalidOperationException">The devnet runs no mailboxes.</exception>
    public async Task<(int Pushed, int Missing)> DemoBlobsMissingAtAsync(PeerId peerId, string slot, CancellationToken cancellationToken)
    {
        var mailboxes = _mailboxes ?? throw new InvalidOperationException("the devnet runs no mailboxes");
        KontinuumNode? node;
        lock (_nodes) node = _nodes.FirstOrDefault(n => n.PeerId.Equals(peerId));
        return await mailboxes.MissingAtAsync(node, slot, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The first device's directory of the demo group, when mailboxes run.</summary>
    public string? GroupDirectory => _mailboxes?.Directory;
}
