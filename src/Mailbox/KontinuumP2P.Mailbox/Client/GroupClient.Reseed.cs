using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Client;

public sealed partial class GroupClient
{
    // A survivor that keeps resetting its store mid-reseed would otherwise restart the job forever.
    private const int MaxReseedEpochRestarts = 3;
    private const int MaxRateLimitRetries = 20;

    /// <summary>
    /// Re-seeds every replacement mailbox this device noticed (a slot now served by another node than the one it last
    /// reached): set reconciliation by blob id against the union of every reachable survivor and this device's own
    /// unacknowledged blobs. A replica survivor trims what every device acknowledged, so no single survivor is assumed
    /// to hold everything. The replacement's ids are listed, each survivor is read page by page from the job's saved
    /// cursor, and every blob the replacement lacks is checked (its id is its hash, it opens with a group key) and
    /// pushed to it at <see cref="GroupHealthOptions.ReseedBlobsPerSecond"/>. Progress is saved after each page and
    /// each finished survivor, so a restart resumes the job. A job stays pending while a survivor is unreachable or
    /// the replacement cannot be reached.
    /// </summary>
    /// <param name="options">Rate and bounds.</param>
    /// <param name="cancellationToken">Stops between blobs (progress up to the last page is kept).</param>
    /// <returns>Blobs pushed to replacements.</returns>
    public async Task<long> ReseedAsync(GroupHealthOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var rate = new TokenBucket(Math.Max(1, options.ReseedBlobsPerSecond), options.ReseedBlobsPerSecond, _options.TimeProvider.GetUtcNow().UtcTicks);
        long pushed = 0;
        foreach (var job in Store.ReseedJobs())
        {
            try
            {
                pushed += await ReseedOneAsync(job, options, rate, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                LogReseedDeferred(_logger, job.Slot, job.Target, e.Message);
            }
        }
        return pushed;
    }

    private async Task<long> ReseedOneAsync(ReseedJob job, GroupHealthOptions options, TokenBucket rate, CancellationToken cancellationToken)
    {
        var connections = Connections;
        var target = connections.FirstOrDefault(c => c.Generation == job.Generation && c.Slot == job.Slot);
        if (target is null)
        {
            // Rotated away: the old generation's mailboxes are no longer written, nothing to complete.
            Store.CompleteReseed(job);
            return 0;
        }
        var targetSession = await target.GetSessionAsync(cancellationToken).ConfigureAwait(false);
        // Moved again since: the next health tick records a job for the newer node.
        if (target.PeerId?.ToString() != job.Target) return 0;
        var held = await ListIdsAsync(targetSession, options.MaxReconciledIds, cancellationToken).ConfigureAwait(false);
        var pushedBefore = job.Pushed;
        // The survivor in progress first (its saved cursor stays valid), then the others in a stable order.
        var survivors = connections.Where(c => c.Generation == job.Generation && c.Slot != job.Slot && !job.IsDone(c.Slot))
            .OrderBy(c => c.Slot == job.Survivor ? 0 : 1).ThenBy(c => c.Slot, StringComparer.Ordinal).ToList();
        var unreachable = new List<string>();
        foreach (var survivor in survivors)
        {
            try
            {
                var session = await survivor.GetSessionAsync(cancellationToken).ConfigureAwait(false);
                if (survivor.Slot != job.Survivor) job = job with { Survivor = survivor.Slot, Epoch = session.OpenResult!.Epoch, Cursor = 0 };
                job = await ReconcileAsync(job, survivor.Slot, session, targetSession, held, options, rate, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is MailboxUnavailableException or SurvivorReadException)
            {
                // Progress up to its last page is saved; the others are still read.
                job = Store.ReseedJobs().FirstOrDefault(j => j.Generation == job.Generation && j.Slot == job.Slot && j.Target == job.Target) ?? job;
                unreachable.Add(survivor.Slot);
                continue;
            }
            job = job with { Survivor = null, Epoch = 0, Cursor = 0, Done = [.. job.Done ?? [], survivor.Slot] };
            Store.SaveReseed(job);
        }
        job = await ReseedFromLocalAsync(job, targetSession, held, options, rate, cancellationToken).ConfigureAwait(false);
        if (unreachable.Count > 0)
        {
            // What a survivor alone still holds may be missing: the job waits for it (or for its own replacement).
            Store.SaveReseed(job);
            LogReseedDeferred(_logger, job.Slot, job.Target, $"survivors {string.Join(", ", unreachable)} unreachable");
            return job.Pushed - pushedBefore;
        }
        Store.CompleteReseed(job);
        ReseedMetrics.JobCompleted();
        LogReseeded(_logger, job.Slot, job.Target, string.Join(", ", job.Done ?? []), job.Pushed);
        return job.Pushed - pushedBefore;
    }

    /// <summary>Reads one survivor from the job's cursor to its end, pushing what the target lacks.</summary>
    private async Task<ReseedJob> ReconcileAsync(ReseedJob job, string survivor, MailboxSession survivorSession, MailboxSession targetSession,
        HashSet<BlobId> held, GroupHealthOptions options, TokenBucket rate, CancellationToken cancellationToken)
    {
        var restarts = 0;
        while (true)
        {
            MailboxPullResult page;
            try
            {
                page = await survivorSession.PullAsync(job.Cursor, _options.PullLimit, _options.PullMaxBytes, job.Epoch, cancellationToken).ConfigureAwait(false);
            }
            catch (MailboxException e) when (e.Code == MailboxErrorCode.EpochChanged && restarts++ < MaxReseedEpochRestarts)
            {
                job = job with { Epoch = e.Epoch, Cursor = 0 };
                continue;
            }
            catch (Exception e) when (e is IOException or TimeoutException && e is not MailboxException && !cancellationToken.IsCancellationRequested)
            {
                // The survivor broke (a failure of the target's pushes is not caught here and defers the whole job).
                throw new SurvivorReadException(survivor, e);
            }
            if (page.Epoch != job.Epoch)
            {
                if (restarts++ >= MaxReseedEpochRestarts) throw new IOException($"mailbox {survivor} keeps changing its epoch");
                job = job with { Epoch = page.Epoch, Cursor = 0 };
                continue;
            }
            long pushed = 0;
            var skipped = 0;
            foreach (var blob in page.Blobs)
            {
                if (blob.BlobId.Length != BlobId.Length) continue;
                var claimed = BlobId.FromDigest(blob.BlobId.Span);
                if (held.Contains(claimed))
                {
                    skipped++;
                    continue;
                }
                // Only blobs of this group go to the replacement: a survivor cannot use this device to plant others.
                if (BlobId.Of(blob.Data.Span) != claimed || TryOpen(blob.Data.Span) is null) continue;
                await PushPacedAsync(targetSession, blob.Data, claimed, rate, cancellationToken).ConfigureAwait(false);
                if (held.Count < options.MaxReconciledIds) held.Add(claimed);
                pushed++;
                ReseedMetrics.Pushed();
            }
            ReseedMetrics.Skipped(skipped);
            job = job with { Cursor = page.Blobs.Count > 0 ? page.Blobs[^1].Cursor : job.Cursor, Pushed = job.Pushed + pushed };
            Store.SaveReseed(job);
            if (page.Blobs.Count == 0 || !page.HasMore) return job;
        }
    }

    /// <summary>This device's own sealed blobs (kept until every mailbox acknowledged them) the target lacks.</summary>
    private async Task<ReseedJob> ReseedFromLocalAsync(ReseedJob job, MailboxSession targetSession, HashSet<BlobId> held,
        GroupHealthOptions options, TokenBucket rate, CancellationToken cancellationToken)
    {
        long pushed = 0;
        foreach (var id in Store.LocalBlobIds(options.MaxReconciledIds))
        {
            if (held.Contains(id) || Store.ReadBlob(id) is not { } data) continue;
            if (BlobId.Of(data) != id || TryOpen(data) is null) continue;
            await PushPacedAsync(targetSession, data, id, rate, cancellationToken).ConfigureAwait(false);
            if (held.Count < options.MaxReconciledIds) held.Add(id);
            pushed++;
            ReseedMetrics.Pushed();
        }
        if (pushed == 0) return job;
        job = job with { Pushed = job.Pushed + pushed };
        Store.SaveReseed(job);
        return job;
    }

    /// <summary>Every blob id the mailbox holds (pull pages without acknowledging), up to <paramref name="max"/>.</summary>
    private async Task<HashSet<BlobId>> ListIdsAsync(MailboxSession session, int max, CancellationToken cancellationToken)
    {
        var ids = new HashSet<BlobId>();
        var epoch = session.OpenResult!.Epoch;
        ulong cursor = 0;
        while (ids.Count < max)
        {
            var page = await session.PullAsync(cursor, _options.PullLimit, _options.PullMaxBytes, epoch, cancellationToken).ConfigureAwait(false);
            foreach (var blob in page.Blobs)
            {
                if (blob.BlobId.Length == BlobId.Length && ids.Count < max) ids.Add(BlobId.FromDigest(blob.BlobId.Span));
            }
            if (page.Blobs.Count == 0 || !page.HasMore) break;
            cursor = page.Blobs[^1].Cursor;
        }
        return ids;
    }

    private async Task PushPacedAsync(MailboxSession session, ReadOnlyMemory<byte> data, BlobId id, TokenBucket rate, CancellationToken cancellationToken)
    {
        var time = _options.TimeProvider;
        while (!rate.TryTake(time.GetUtcNow().UtcTicks, out var wait)) await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        for (var attempt = 0; ; attempt++)
        {
            using var deadline = new CancellationTokenSource(_options.PushTimeout, time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            try
            {
                await session.PushAsync(data, id.Digest.ToArray(), _options.TtlSeconds, timeout.Token).ConfigureAwait(false);
                return;
            }
            catch (MailboxException e) when (e.RetryAfter > TimeSpan.Zero && attempt < MaxRateLimitRetries)
            {
                // The replacement's per-device limit: wait as told, the application's pushes share it.
                await Task.Delay(e.RetryAfter, time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"no acknowledgement within {_options.PushTimeout.TotalSeconds:0.#} s while re-seeding");
            }
        }
    }

    private sealed class SurvivorReadException(string survivor, Exception inner) : IOException($"survivor {survivor}: {inner.Message}", inner);

    [LoggerMessage(Level = LogLevel.Information, Message = "re-seed of mailbox {Slot} on {Target} deferred: {Reason}")]
    private static partial void LogReseedDeferred(ILogger logger, string slot, string target, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "mailbox {Slot} on {Target} re-seeded from {Survivors} and this device's own blobs: {Pushed} blobs pushed")]
    private static partial void LogReseeded(ILogger logger, string slot, string target, string survivors, long pushed);
}
