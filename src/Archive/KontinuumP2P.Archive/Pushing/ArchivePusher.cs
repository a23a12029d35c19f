using System.Diagnostics.Metrics;
using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Manifests;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Sinks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Archive.Pushing;

/// <summary>
/// Tails each replica mailbox by cursor and writes its blobs, in packs, to every sink. Per pack: the cursor range is
/// recorded as a plan first (so a restart rebuilds the byte-identical pack: same id, idempotent upload, never a second
/// pack for the same blobs); the pack is uploaded and read back and its BLAKE3 checked; the next manifest is written
/// and read back; then <c>archived_up_to</c> and the chain position advance in one SQLite transaction.
/// </summary>
public sealed partial class ArchivePusher : BackgroundService
{
    private readonly IArchiveSource _source;
    private readonly IReadOnlyList<IArchiveSink> _sinks;
    private readonly PusherStateStore _state;
    private readonly ArchivePusherOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly Dictionary<string, DateTimeOffset> _waitingSince = [];
    private readonly Counter<long>? _packs;
    private readonly Counter<long>? _blobs;
    private readonly Counter<long>? _bytes;

    /// <summary>Creates the pusher; it runs once started as a hosted service, or round by round through <see cref="RunOnceAsync"/>.</summary>
    public ArchivePusher(IArchiveSource source, IReadOnlyList<IArchiveSink> sinks, PusherStateStore state, ArchivePusherOptions options,
        TimeProvider timeProvider, ILogger<ArchivePusher>? logger = null, IMeterFactory? meterFactory = null)
    {
        _source = source ?? throw new ArgumentNullException(nameof(source));
        _sinks = sinks is { Count: > 0 } ? sinks : throw new ArgumentException("at least one sink", nameof(sinks));
        _state = state ?? throw new ArgumentNullException(nameof(state));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _options.Validate();
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        if (meterFactory is not null)
        {
            var meter = meterFactory.Create("KontinuumP2P.Archive");
            _packs = meter.CreateCounter<long>("kontinuum.archive.packs", description: "Packs archived and verified");
            _blobs = meter.CreateCounter<long>("kontinuum.archive.blobs", description: "Blobs archived");
            _bytes = meter.CreateCounter<long>("kontinuum.archive.bytes", "By", "Pack bytes archived");
        }
    }

    /// <summary>Raised after each pack is archived and its state committed.</summary>
    public event Action<ArchivedPack>? PackArchived;

    /// <summary>Raised when archiving a mailbox failed (it is retried next round).</summary>
    public event Action<ReadOnlyMemory<byte>, Exception>? MailboxFailed;

    /// <summary>Raised after each round over all mailboxes, with the number of packs written.</summary>
    public event Action<int>? RoundCompleted;

    /// <summary>Asks the loop to look at the mailboxes now (new blobs arrived).</summary>
    public void Nudge()
    {
        try
        {
            if (_wake.CurrentCount == 0) _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already nudged.
        }
    }

    /// <summary>
    /// One round: every mailbox, every pack that is due (size or age; all pending blobs when
    /// <paramref name="flush"/>). Returns the number of packs written. Failures of one mailbox are logged and the
    /// others still run; the failed one is retried next round.
    /// </summary>
    public async Task<int> RunOnceAsync(bool flush, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Contents first: a reference blob pushed after its content was complete here finds it archived by the
            // time its own pack is written.
            if (_source is IArchiveContentSource contents) await ArchiveContentsAsync(contents, cancellationToken).ConfigureAwait(false);
            var written = 0;
            foreach (var mailbox in await _source.ListMailboxesAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    written += await ArchiveMailboxAsync(mailbox, flush, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    ArchivePusherLog.MailboxFailed(_logger, Convert.ToHexStringLower(mailbox.MailboxId.Span), e);
                    MailboxFailed?.Invoke(mailbox.MailboxId, e);
                }
            }
            RoundCompleted?.Invoke(written);
            return written;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(flush: false, stoppingToken).ConfigureAwait(false);
                using var round = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                await Task.WhenAny(_wake.WaitAsync(round.Token), Task.Delay(_options.PollInterval, _time, round.Token)).ConfigureAwait(false);
                await round.CancelAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The source itself failed (mailbox list); wait a poll interval and try again.
                ArchivePusherLog.RoundFailed(_logger, e);
                try
                {
                    await Task.Delay(_options.PollInterval, _time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        base.Dispose();
        _gate.Dispose();
        _wake.Dispose();
    }

    private async Task<int> ArchiveMailboxAsync(ArchiveMailbox mailbox, bool flush, CancellationToken cancellationToken)
    {
        var keys = ArchiveKeys.Derive(mailbox.ArchiveKey.Span);
        var mailboxKey = Convert.ToHexStringLower(mailbox.MailboxId.Span);
        var state = _state.Get(mailbox.MailboxId.Span) ?? await RecoverAsync(mailbox, keys, mailboxKey, cancellationToken).ConfigureAwait(false);
        if (state.Epoch != mailbox.Epoch)
        {
            // The store was reset: its cursors start again. The chain continues (restore does not rely on cursors
            // growing across packs); a plan of the old epoch is void, its blobs are gone.
            ArchivePusherLog.EpochChanged(_logger, mailboxKey, state.Epoch, mailbox.Epoch, state.ArchivedUpTo);
            state = state with { ArchivedUpTo = 0, PlannedUpTo = null, Epoch = mailbox.Epoch };
            _state.Put(mailbox.MailboxId.Span, state);
            _waitingSince.Remove(mailboxKey);
        }
        await _source.ArchivedAsync(mailbox, state.ArchivedUpTo, cancellationToken).ConfigureAwait(false);
        var written = 0;
        // The next pack, built on another core while this one is written, fsynced and read back. It is not planned
        // (nothing is recorded about it) until this one has advanced, so a crash in between loses only CPU work: the
        // restart gathers it again. At most two packs are in memory: the one being stored and the one being built.
        Task<Pack>? ahead = null;
        // Or the blobs after this pack, read for the look-ahead but not due yet: the next step starts from them.
        (List<ArchiveBlob> Blobs, bool Full)? readAhead = null;
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Pack pack;
                var gathered = false;
                if (ahead is not null)
                {
                    var next = ahead;
                    ahead = null;
                    pack = await next.ConfigureAwait(false);
                    // Its plan was committed with the previous pack's advance (one fsync less per pack).
                    if (state.PlannedUpTo != pack.Entries[^1].Cursor) state = Plan(mailbox, state, pack);
                    gathered = true;
                }
                else if (state.PlannedUpTo is { } planned)
                {
                    // A pack was planned before a restart: rebuild exactly the same cursor range.
                    pack = BuildPack(keys, await ReadRangeAsync(mailbox, state.ArchivedUpTo, planned, cancellationToken).ConfigureAwait(false));
                }
                else
                {
                    var (candidate, full) = readAhead ?? await GatherAsync(mailbox, state.ArchivedUpTo, cancellationToken).ConfigureAwait(false);
                    readAhead = null;
                    if (candidate.Count == 0)
                    {
                        _waitingSince.Remove(mailboxKey);
                        return written;
                    }
                    var now = _time.GetUtcNow();
                    if (!_waitingSince.TryGetValue(mailboxKey, out var since)) _waitingSince[mailboxKey] = since = now;
                    if (!full && !flush && now - since < _options.MaxPackAge) return written;
                    pack = BuildPack(keys, candidate);
                    state = Plan(mailbox, state, pack);
                    gathered = true;
                }
                // Read the blobs after this pack now (the source has one caller at a time); when they make a pack that
                // is due anyway (full, or a flush), build it while this one is stored. A partial pack waits for its
                // age, which the next round decides as before.
                var (following, followingFull) = await GatherAsync(mailbox, pack.Entries[^1].Cursor, cancellationToken).ConfigureAwait(false);
                ulong? nextPlan = null;
                if (following.Count > 0 && (followingFull || flush))
                {
                    ahead = Task.Run(() => BuildPack(keys, following), cancellationToken);
                    // Its range is known now, so its plan goes into this pack's advance: a restart after that commit
                    // rebuilds exactly these blobs, as it would after a plan of its own a moment later.
                    nextPlan = following[^1].Cursor;
                }
                else readAhead = (following, followingFull);
                state = await WritePackAsync(mailbox, keys, state, pack, nextPlan, cancellationToken).ConfigureAwait(false);
                written++;
                if (gathered) _waitingSince[mailboxKey] = _time.GetUtcNow();
            }
        }
        finally
        {
            // Owned: a look-ahead build never outlives the round that started it.
            if (ahead is not null)
            {
                try
                {
                    await ahead.ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or ArgumentException)
                {
                    // Cancelled with the round, or the blobs are refused; the next round gathers them again.
                }
            }
        }
    }

    // Records the plan for a pack before any of it reaches a sink: from here a restart rebuilds exactly this range.
    private MailboxArchiveState Plan(ArchiveMailbox mailbox, MailboxArchiveState state, Pack pack)
    {
        state = state with { PlannedUpTo = pack.Entries[^1].Cursor };
        _state.Put(mailbox.MailboxId.Span, state);
        return state;
    }

    // Sized exactly for its blobs, so the header is sealed into the same buffer; the pack id is hashed as it fills.
    private static Pack BuildPack(ArchiveKeys keys, List<ArchiveBlob> blobs)
    {
        var builder = new PackBuilder(keys, (int)Math.Min(PackBuilder.ExactSize(blobs.Select(b => b.Data.Length)), PackFormat.MaxPackBytes));
        foreach (var blob in blobs) builder.Add(blob.BlobId.Span, blob.Cursor, blob.Data.Span);
        return builder.Build();
    }

    // Blobs after the cursor that fit one pack; full is true when the pack has reached its target size.
    private async Task<(List<ArchiveBlob> Blobs, bool Full)> GatherAsync(ArchiveMailbox mailbox, ulong after, CancellationToken cancellationToken)
    {
        var blobs = new List<ArchiveBlob>();
        long size = PackFormat.TrailerLength + Crypto.SyntheticAead.Overhead + 5;
        while (true)
        {
            var batch = await _source.ReadAfterAsync(mailbox.MailboxId, after, _options.ReadBatchBlobs, _options.ReadBatchBytes, cancellationToken).ConfigureAwait(false);
            if (batch.Count == 0) return (blobs, false);
            foreach (var blob in batch)
            {
                var grown = size + blob.Data.Length + 52;
                if (blobs.Count > 0 && (grown > _options.TargetPackBytes || blobs.Count >= PackFormat.MaxBlobs)) return (blobs, true);
                blobs.Add(blob);
                size = grown;
                after = blob.Cursor;
            }
        }
    }

    private async Task<List<ArchiveBlob>> ReadRangeAsync(ArchiveMailbox mailbox, ulong after, ulong upTo, CancellationToken cancellationToken)
    {
        var blobs = new List<ArchiveBlob>();
        while (after < upTo)
        {
            var batch = await _source.ReadAfterAsync(mailbox.MailboxId, after, _options.ReadBatchBlobs, _options.ReadBatchBytes, cancellationToken).ConfigureAwait(false);
            if (batch.Count == 0) break;
            foreach (var blob in batch)
            {
                if (blob.Cursor > upTo) break;
                blobs.Add(blob);
                after = blob.Cursor;
            }
        }
        if (blobs.Count == 0 || blobs[^1].Cursor != upTo)
            throw new InvalidOperationException($"the source no longer holds the planned blobs up to cursor {upTo}; the replica dropped unarchived blobs");
        return blobs;
    }


    // No local state (new mailbox, or the state file was lost): continue the chain the first sink already holds.
    private async Task<MailboxArchiveState> RecoverAsync(ArchiveMailbox mailbox, ArchiveKeys keys, string mailboxKey, CancellationToken cancellationToken)
    {
        var sink = _sinks[0];
        var length = await ManifestChain.FindLengthAsync(sink, keys, cancellationToken).ConfigureAwait(false);
        var state = new MailboxArchiveState(0, 0, new byte[32], null, mailbox.Epoch);
        if (length > 0)
        {
            var sealedBox = await sink.GetAsync(keys.ManifestAddress(length - 1), ManifestCodec.MaxSealedBytes, cancellationToken).ConfigureAwait(false)
                ?? throw new IOException($"{sink.Name} lost manifest {length - 1} while it was being read");
            var last = ManifestCodec.Open(sealedBox, length - 1, keys);
            state = new MailboxArchiveState(last.LastCursor, length, ManifestChain.LinkHash(sealedBox), null, mailbox.Epoch);
            ArchivePusherLog.Recovered(_logger, mailboxKey, state.ArchivedUpTo, length, sink.Name);
        }
        _state.Put(mailbox.MailboxId.Span, state);
        return state;
    }
}
