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
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (state.PlannedUpTo is { } planned)
            {
                // A pack was planned before a restart: rebuild exactly the same cursor range.
                var blobs = await ReadRangeAsync(mailbox, state.ArchivedUpTo, planned, cancellationToken).ConfigureAwait(false);
                state = await WritePackAsync(mailbox, keys, state, blobs, cancellationToken).ConfigureAwait(false);
                written++;
                continue;
            }
            var (candidate, full) = await GatherAsync(mailbox, state.ArchivedUpTo, cancellationToken).ConfigureAwait(false);
            if (candidate.Count == 0)
            {
                _waitingSince.Remove(mailboxKey);
                return written;
            }
            var now = _time.GetUtcNow();
            if (!_waitingSince.TryGetValue(mailboxKey, out var since)) _waitingSince[mailboxKey] = since = now;
            if (!full && !flush && now - since < _options.MaxPackAge) return written;
            state = state with { PlannedUpTo = candidate[^1].Cursor };
            _state.Put(mailbox.MailboxId.Span, state);
            state = await WritePackAsync(mailbox, keys, state, candidate, cancellationToken).ConfigureAwait(false);
            written++;
            _waitingSince[mailboxKey] = now;
        }
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

    private async Task<MailboxArchiveState> WritePackAsync(ArchiveMailbox mailbox, ArchiveKeys keys, MailboxArchiveState state,
        List<ArchiveBlob> blobs, CancellationToken cancellationToken)
    {
        var builder = new PackBuilder(keys, (int)Math.Min(PackBuilder.ExactSize(blobs.Select(b => b.Data.Length)), PackFormat.MaxPackBytes));
        foreach (var blob in blobs) builder.Add(blob.BlobId.Span, blob.Cursor, blob.Data.Span);
        var pack = builder.Build();
        foreach (var sink in _sinks) await StoreVerifiedAsync(sink, pack.Id, pack.Bytes, cancellationToken, hashed: true).ConfigureAwait(false);

        var manifest = new Manifest(state.ChainLength, state.ChainHead, pack.Id, blobs[0].Cursor, blobs[^1].Cursor,
            [.. pack.Entries.Select(e => new ManifestBlob(e.BlobId, e.Cursor))]);
        var sealedManifest = ManifestCodec.Seal(manifest, keys);
        var address = keys.ManifestAddress(state.ChainLength);
        foreach (var sink in _sinks) await StoreVerifiedAsync(sink, address, sealedManifest, cancellationToken).ConfigureAwait(false);

        var record = new ArchivedPack(mailbox.MailboxId.ToArray(), state.ChainLength, pack.Id.ToString(), manifest.FirstCursor, manifest.LastCursor, blobs.Count, pack.Bytes.Length);
        var next = new MailboxArchiveState(manifest.LastCursor, state.ChainLength + 1, ManifestChain.LinkHash(sealedManifest), null, state.Epoch);
        _state.Advance(record, next);
        _packs?.Add(1);
        _blobs?.Add(blobs.Count);
        _bytes?.Add(pack.Bytes.Length);
        ArchivePusherLog.PackArchived(_logger, record.PackId, Convert.ToHexStringLower(mailbox.MailboxId.Span), blobs.Count, record.FirstCursor, record.LastCursor, record.Bytes, record.Sequence);
        await _source.ArchivedAsync(mailbox, next.ArchivedUpTo, cancellationToken).ConfigureAwait(false);
        PackArchived?.Invoke(record);
        return next;
    }

    // Upload, read back, compare; a mismatching copy (a torn or corrupted object already there) is replaced once.
    // hashed: the id was computed here from these very bytes, so a sink that can skip its own pre-put hash does (the
    // read-back below still checks what was stored).
    private async Task StoreVerifiedAsync(IArchiveSink sink, ArchiveObjectId id, byte[] data, CancellationToken cancellationToken, bool hashed = false)
    {
        if (hashed && sink is ILocalSink fast) await fast.PutHashedAsync(id, data, cancellationToken).ConfigureAwait(false);
        else await sink.PutAsync(id, data, cancellationToken).ConfigureAwait(false);
        if (await ReadsBackAsync(sink, id, data, cancellationToken).ConfigureAwait(false)) return;
        ArchivePusherLog.ReadBackMismatch(_logger, id.ToString(), sink.Name);
        await sink.ReplaceAsync(id, data, cancellationToken).ConfigureAwait(false);
        if (!await ReadsBackAsync(sink, id, data, cancellationToken).ConfigureAwait(false))
            throw new IOException($"{sink.Name} does not return {id} as written");
    }

    private static async Task<bool> ReadsBackAsync(IArchiveSink sink, ArchiveObjectId id, byte[] data, CancellationToken cancellationToken)
    {
        // Packs from a local sink are hashed as they stream in through one pooled buffer, not read whole into a new array.
        if (id.Kind == ArchiveObjectKind.Pack && sink is ILocalSink streaming) return await streaming.HashMatchesAsync(id, data.Length, cancellationToken).ConfigureAwait(false);
        var back = await sink.GetAsync(id, data.Length, cancellationToken).ConfigureAwait(false);
        if (back is null) return false;
        return id.Kind == ArchiveObjectKind.Pack ? back.Length == data.Length && PackReader.HasId(back, id) : back.AsSpan().SequenceEqual(data);
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
