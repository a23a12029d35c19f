using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Restore;
using KontinuumP2P.Archive.Sinks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Archive.Replication;

/// <summary>What one re-replication round did.</summary>
/// <param name="Checked">Objects whose holders were counted.</param>
/// <param name="Repaired">Objects copied to new holders (back to the replica count).</param>
/// <param name="Failed">Objects that could not be brought back (retried when the rotation comes round again).</param>
public sealed record ReplicationRound(int Checked, int Repaired, int Failed);

/// <summary>
/// The pusher side's re-replication loop for the <c>peers</c> sink: each round it takes the next
/// <see cref="HolderReplicationOptions.ObjectsPerRound"/> objects the pusher archived (packs, their manifests and
/// contents, in a rotation over the pusher's state) and brings each back to R holders of distinct providers with
/// <see cref="PeersSink.EnsureReplicasAsync"/>: a copy from a surviving holder, or a pack rebuilt from the replica's
/// blobs, a content read from its content store, or a manifest re-sealed from its pack (<see cref="ManifestRebuilder"/>).
/// At most that many objects per interval, one at a time, so a
/// holder leaving costs the network a bounded trickle of transfers, not a burst.
/// </summary>
public sealed partial class HolderReplicator : BackgroundService
{
    private readonly PeersSink _sink;
    private readonly IArchiveSource _source;
    private readonly PusherStateStore _state;
    private readonly HolderReplicationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private long _next;

    /// <summary>Creates the loop (started with <see cref="BackgroundService.StartAsync"/>, or run by rounds with <see cref="RunOnceAsync"/>).</summary>
    /// <param name="sink">The <c>peers</c> sink.</param>
    /// <param name="source">The replica the pusher reads (rebuilds packs and contents when no holder has a copy).</param>
    /// <param name="state">The pusher's state: which objects it archived. Use a connection of its own (the pusher's is not shared).</param>
    /// <param name="options">Pace; null: defaults.</param>
    /// <param name="timeProvider">Clock of the interval.</param>
    /// <param name="logger">Logging.</param>
    public HolderReplicator(PeersSink sink, IArchiveSource source, PusherStateStore state, HolderReplicationOptions? options, TimeProvider timeProvider,
        ILogger<HolderReplicator>? logger = null)
    {
        _sink = sink ?? throw new ArgumentNullException(nameof(sink));
        _source = source ?? throw new ArgumentNullException(nameof(source));
        _state = state ?? throw new ArgumentNullException(nameof(state));
        _options = options ?? new HolderReplicationOptions();
        _options.Validate();
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Raised after each round of the background loop and of <see cref="RunOnceAsync"/>.</summary>
    public event Action<ReplicationRound>? RoundCompleted;

    /// <summary>Checks the next objects of the rotation; returns what it did.</summary>
    public async Task<ReplicationRound> RunOnceAsync(CancellationToken cancellationToken)
    {
        var objects = await ObjectsAsync(cancellationToken).ConfigureAwait(false);
        int checkedCount = 0, repaired = 0, failed = 0;
        var take = Math.Min(objects.Count, _options.ObjectsPerRound);
        for (var i = 0; i < take; i++)
        {
            var (id, rebuild) = objects[(int)(_next++ % objects.Count)];
            checkedCount++;
            try
            {
                var check = await _sink.EnsureReplicasAsync(id, rebuild, cancellationToken).ConfigureAwait(false);
                if (check.Added > 0)
                {
                    repaired++;
                    Log.Replicated(_logger, id.ToString(), check.Live, check.Added, check.Rebuilt);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                failed++;
                Log.Failed(_logger, id.ToString(), e.Message);
            }
        }
        var round = new ReplicationRound(checkedCount, repaired, failed);
        RoundCompleted?.Invoke(round);
        return round;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // One tick per interval from a periodic timer; ticks that arrive while a round runs coalesce into one, so an
        // overrunning round is followed by one more at once and never by a burst.
        using var tick = new SemaphoreSlim(0, 1);
        using var timer = _time.CreateTimer(_ =>
        {
            try
            {
                tick.Release();
            }
            catch (SemaphoreFullException)
            {
                // A round is already due.
            }
        }, null, _options.Interval, _options.Interval);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await tick.WaitAsync(stoppingToken).ConfigureAwait(false);
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // A failure of the state file or the source: log and try again next interval.
                Log.Failed(_logger, "(round)", e.Message);
            }
        }
    }

    /// <summary>Every archived object with how to rebuild it: packs and contents from the replica, manifests re-sealed from their packs.</summary>
    private async Task<List<(ArchiveObjectId Id, Func<CancellationToken, ValueTask<byte[]?>>? Rebuild)>> ObjectsAsync(CancellationToken cancellationToken)
    {
        var mailboxes = (await _source.ListMailboxesAsync(cancellationToken).ConfigureAwait(false))
            .ToDictionary(m => Convert.ToHexStringLower(m.MailboxId.Span));
        var keys = new Dictionary<string, ArchiveKeys>();
        var objects = new List<(ArchiveObjectId, Func<CancellationToken, ValueTask<byte[]?>>?)>();
        var packs = _state.Packs();
        // Per mailbox, its packs by chain position (what a lost manifest is rebuilt from).
        var chains = packs.GroupBy(p => Convert.ToHexStringLower(p.MailboxId))
            .ToDictionary(g => g.Key, g => (IReadOnlyDictionary<ulong, ArchivedPack>)g.GroupBy(p => p.Sequence).ToDictionary(s => s.Key, s => s.Last()));
        foreach (var pack in packs)
        {
            var mailboxKey = Convert.ToHexStringLower(pack.MailboxId);
            if (!mailboxes.TryGetValue(mailboxKey, out var mailbox))
            {
                objects.Add((ArchiveObjectId.Parse(pack.PackId), null));
                continue;
            }
            objects.Add((ArchiveObjectId.Parse(pack.PackId), async ct => await ArchiveRepairer.RebuildPackAsync(_source, mailbox, pack, ct).ConfigureAwait(false)));
            if (!keys.TryGetValue(mailboxKey, out var derived)) keys[mailboxKey] = derived = ArchiveKeys.Derive(mailbox.ArchiveKey.Span);
            var chain = chains[mailboxKey];
            var sequence = pack.Sequence;
            objects.Add((derived.ManifestAddress(sequence), async ct => await ManifestRebuilder.RebuildAsync(_sink, _source, mailbox, derived, chain, sequence, ct).ConfigureAwait(false)));
        }
        var contents = _source as IArchiveContentSource;
        foreach (var content in _state.Contents())
        {
            var contentId = content.ContentId;
            objects.Add((ArchiveObjectId.Content(contentId), contents is null ? null : ct => contents.ReadContentAsync(contentId, ct)));
        }
        return objects;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 95, Level = LogLevel.Information, Message = "Archive object {Object} was on {Live} holders; copied to {Added} more (rebuilt from the replica: {Rebuilt})")]
        public static partial void Replicated(ILogger logger, string @object, int live, int added, bool rebuilt);

        [LoggerMessage(EventId = 96, Level = LogLevel.Warning, Message = "Re-replication of {Object} failed: {Reason}")]
        public static partial void Failed(ILogger logger, string @object, string reason);
    }
}
