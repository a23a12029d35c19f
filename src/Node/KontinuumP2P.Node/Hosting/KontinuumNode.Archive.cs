using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Replication;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Node.Composition;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Node.Hosting;

public sealed partial class KontinuumNode
{
    /// <summary>The archive pusher's progress, when <see cref="KontinuumNodeOptions.Archive"/> configured one and the node has started.</summary>
    public NodeArchiveStatus? ArchiveStatus => RunningServices.OfType<ArchiveNodeService>().FirstOrDefault()?.Status;

    /// <summary>The archive pusher itself (for a round on demand, e.g. <see cref="ArchivePusher.RunOnceAsync"/>), when running.</summary>
    public ArchivePusher? ArchivePusher => RunningServices.OfType<ArchiveNodeService>().FirstOrDefault()?.Pusher;

    /// <summary>The re-replication loop of the archive's <c>peers</c> sink, when the pusher runs with that sink.</summary>
    public HolderReplicator? ArchiveReplicator => RunningServices.OfType<ArchiveNodeService>().FirstOrDefault()?.Replicator;

    /// <summary>The pusher over this node's mailbox store; it starts after the mailbox service (registered after it).</summary>
    internal sealed class ArchiveNodeService(KontinuumNode node, NodeArchiveOptions options) : INodeService
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, ulong> _archivedUpTo = [];
        private readonly List<IArchiveSink> _sinks = [];
        // Content ids (hex) in the archive: the content store's expiry keeps the others (bounded by its MaxArchiveHold).
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _archivedContents = new(StringComparer.Ordinal);
        private PusherStateStore? _state, _replicationState;
        private long _packs, _blobs, _bytes, _failures;
        private DateTimeOffset? _lastPackAt;

        public ArchivePusher? Pusher { get; private set; }

        /// <summary>The re-replication loop of the <c>peers</c> sink, when it is one of the sinks.</summary>
        public HolderReplicator? Replicator { get; private set; }

        public string Name => "archive";

        /// <summary>Whether the pusher has archived this content (a pusher that is not started yet has archived nothing).</summary>
        public bool IsContentArchived(KontinuumP2P.Mailbox.Content.ContentId id) => _archivedContents.ContainsKey(id.ToHex());

        public NodeArchiveStatus Status
        {
            get
            {
                lock (_lock) return new NodeArchiveStatus(_packs, _blobs, _bytes, new Dictionary<string, ulong>(_archivedUpTo), _lastPackAt, _failures);
            }
        }

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var store = node.MailboxServer?.Store ?? throw new InvalidOperationException("the archive pusher needs this node's mailbox server, which is not running");
            foreach (var sink in options.Sinks) _sinks.Add(sink == "peers" ? node.OpenPeersArchiveSink(options.Peers) : ArchiveSinks.Open(sink));
            var statePath = options.StatePath ?? Path.Combine(node.Options.DataDirectory ?? ".", "archive-state.db");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(statePath))!);
            _state = new PusherStateStore(statePath);
            foreach (var content in _state.Contents()) _archivedContents.TryAdd(Convert.ToHexStringLower(content.ContentId), 0);
            var services = node.Services;
            Pusher = new ArchivePusher(new SelectedSource(new MailboxStoreArchiveSource(store), options, node), _sinks, _state, options.Pusher,
                services.TimeProvider, services.LoggerFactory.CreateLogger<ArchivePusher>(), services.MeterFactory);
            Pusher.PackArchived += pack =>
            {
                lock (_lock)
                {
                    _packs++;
                    _blobs += pack.Blobs;
                    _bytes += pack.Bytes;
                    _archivedUpTo[Convert.ToHexStringLower(pack.MailboxId)] = pack.LastCursor;
                    _lastPackAt = services.TimeProvider.GetUtcNow();
                }
            };
            Pusher.ContentArchived += content => _archivedContents.TryAdd(Convert.ToHexStringLower(content.ContentId), 0);
            Pusher.MailboxFailed += (_, _) => Interlocked.Increment(ref _failures);
            await Pusher.StartAsync(cancellationToken).ConfigureAwait(false);
            if (_sinks.OfType<PeersSink>().FirstOrDefault() is { } peers)
            {
                // Its own connection to the state file: the pusher's is not shared across threads.
                _replicationState = new PusherStateStore(statePath);
                Replicator = new HolderReplicator(peers, new SelectedSource(new MailboxStoreArchiveSource(store), options, node), _replicationState,
                    options.Replication, services.TimeProvider, services.LoggerFactory.CreateLogger<HolderReplicator>());
                await Replicator.StartAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Pusher is { } pusher)
            {
                await pusher.StopAsync(CancellationToken.None).ConfigureAwait(false);
                pusher.Dispose();
            }
            if (Replicator is { } replicator)
            {
                await replicator.StopAsync(CancellationToken.None).ConfigureAwait(false);
                replicator.Dispose();
            }
            _state?.Dispose();
            _replicationState?.Dispose();
            foreach (var sink in _sinks) await sink.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Only the mailboxes <c>archive.mailboxes</c> selects; and every complete content of this node's content store
    /// (looked up per round: the content service starts after this one).
    /// </summary>
    private sealed class SelectedSource(MailboxStoreArchiveSource inner, NodeArchiveOptions options, KontinuumNode node) : IArchiveSource, IArchiveContentSource
    {
        public async ValueTask<IReadOnlyList<ArchiveMailbox>> ListMailboxesAsync(CancellationToken cancellationToken) =>
            [.. (await inner.ListMailboxesAsync(cancellationToken).ConfigureAwait(false)).Where(m => options.Selects(m.MailboxId.Span))];

        public ValueTask<IReadOnlyList<ArchiveBlob>> ReadAfterAsync(ReadOnlyMemory<byte> mailboxId, ulong afterCursor, int maxBlobs, long maxBytes,
            CancellationToken cancellationToken) => inner.ReadAfterAsync(mailboxId, afterCursor, maxBlobs, maxBytes, cancellationToken);

        public ValueTask ArchivedAsync(ArchiveMailbox mailbox, ulong archivedUpTo, CancellationToken cancellationToken) =>
            inner.ArchivedAsync(mailbox, archivedUpTo, cancellationToken);

        public ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> ListContentsAsync(CancellationToken cancellationToken) =>
            Contents()?.ListContentsAsync(cancellationToken) ?? ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>([]);

        public ValueTask<byte[]?> ReadContentAsync(ReadOnlyMemory<byte> contentId, CancellationToken cancellationToken) =>
            Contents()?.ReadContentAsync(contentId, cancellationToken) ?? ValueTask.FromResult<byte[]?>(null);

        private MailboxStoreArchiveSource? Contents() =>
            node.ContentServer?.Store is { } contents && node.MailboxServer?.Store is { } store ? new MailboxStoreArchiveSource(store, contents) : null;
    }
}
