using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>
/// A device of a group talking to the group's mailboxes (design §7): seals each blob once and pushes the identical
/// bytes to every mailbox concurrently, returning at the first N durable acknowledgements while the rest stays in the
/// persistent outbox; pulls every reachable mailbox page by page, drops blobs already applied, commits the cursor with
/// the applied ids and then acknowledges; watches for new blobs; rotates the group secret. Needs only a libp2p host and
/// a resolver (a <c>KontinuumNode</c> provides both, but is not required).
/// </summary>
public sealed partial class GroupClient : IAsyncDisposable
{
    private readonly IPeerHost _host;
    private readonly IMailboxResolver _resolver;
    private readonly IMailboxVerifier _verifier;
    private readonly GroupClientOptions _options;
    private readonly ILogger _logger;
    private readonly BackgroundTasks _tasks;
    private readonly GroupClientMetrics _metrics;
    private readonly SemaphoreSlim _applyLock = new(1, 1);
    private readonly Lock _lock = new();
    private List<MailboxConnection> _connections;
    private int _disposed;

    /// <summary>Creates the client over an open group directory (the client does not own the store).</summary>
    public GroupClient(GroupStore store, IPeerHost host, IMailboxResolver resolver, IMailboxVerifier verifier, GroupClientOptions? options = null)
    {
        Store = store ?? throw new ArgumentNullException(nameof(store));
        _host = host ?? throw new ArgumentNullException(nameof(host));
        _resolver = resolver ?? throw new ArgumentNullException(nameof(resolver));
        _verifier = verifier ?? throw new ArgumentNullException(nameof(verifier));
        _options = options ?? new GroupClientOptions();
        if (_options.RequiredAcks is { } n && (n < 1 || n > store.Current.Slots.Count))
            throw new ArgumentOutOfRangeException(nameof(options), n, $"required acknowledgements must be 1..{store.Current.Slots.Count}");
        _logger = _options.LoggerFactory.CreateLogger<GroupClient>();
        _tasks = new BackgroundTasks(e => LogBackgroundFailure(_logger, e));
        _connections = CreateConnections(store.Current);
        _metrics = new GroupClientMetrics(_options.MeterFactory, OutboxDepth);
    }

    /// <summary>The group directory's state.</summary>
    public GroupStore Store { get; }

    /// <summary>Acknowledgements a push waits for.</summary>
    public int RequiredAcks => Math.Min(_options.RequiredAcks ?? Store.RequiredAcks, Connections.Count);

    /// <summary>Pushes still running after their <see cref="PushAsync"/> returned (the slower mailboxes).</summary>
    public int BackgroundPushes => _tasks.Count;

    private IReadOnlyList<MailboxConnection> Connections
    {
        get
        {
            lock (_lock) return _connections;
        }
    }

    /// <summary>
    /// Seals <paramref name="plaintext"/> once, records it in the outbox for every mailbox, and pushes the identical
    /// bytes to all of them concurrently. Returns once <see cref="RequiredAcks"/> mailboxes acknowledged durably, or
    /// once every attempt has ended; slower pushes go on in the background and failures stay in the outbox.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Plaintext over 1 MiB.</exception>
    public async Task<PushOutcome> PushAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var generation = Store.Current;
        var sealedBlob = BlobCipher.Seal(generation.Keys, plaintext.Span);
        var connections = Connections;
        Store.Enqueue(sealedBlob, generation.Number, connections.Select(c => c.Slot), _options.TimeProvider.GetUtcNow());
        _metrics.Pushed();
        var required = RequiredAcks;
        var acked = new List<MailboxAck>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finished = 0;
        foreach (var connection in connections)
        {
            var started = _tasks.Run(async token =>
            {
                ulong? cursor = null;
                try
                {
                    cursor = await DeliverAsync(connection, sealedBlob.Id, sealedBlob.Bytes, token).ConfigureAwait(false);
                }
                finally
                {
                    // Also on cancellation (the client stopping): the caller must not wait for an attempt that ended.
                    lock (acked)
                    {
                        if (cursor is { } c) acked.Add(new MailboxAck(connection.Slot, c));
                        finished++;
                        if (acked.Count >= required || finished == connections.Count) done.TrySetResult();
                    }
                }
            });
            if (!started) throw new ObjectDisposedException(nameof(GroupClient));
        }
        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (acked)
        {
            var ackedSlots = acked.Select(a => a.Slot).ToHashSet(StringComparer.Ordinal);
            var queued = connections.Select(c => c.Slot).Where(s => !ackedSlots.Contains(s)).ToList();
            return new PushOutcome(sealedBlob.Id, plaintext.Length, [.. acked], queued, acked.Count >= required);
        }
    }

    /// <summary>
    /// Retries the outbox: every row due now (or every row, when <paramref name="all"/>), pushed concurrently per
    /// mailbox. A mailbox that cannot be reached gets its remaining rows rescheduled without a dial each.
    /// </summary>
    public async Task<FlushOutcome> FlushAsync(bool all, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int delivered = 0, failed = 0;
        var bySlot = Connections.ToDictionary(c => (c.Generation, c.Slot));
        var tried = new HashSet<(BlobId, int, string)>();
        while (true)
        {
            var due = Store.DueEntries(all ? null : _options.TimeProvider.GetUtcNow(), 4096)
                .Where(e => !tried.Contains((e.BlobId, e.Generation, e.Slot))).ToList();
            if (due.Count == 0) break;
            var results = await Task.WhenAll(due.GroupBy(e => (e.Generation, e.Slot)).Select(group =>
                bySlot.TryGetValue(group.Key, out var connection)
                    ? FlushSlotAsync(connection, [.. group], cancellationToken)
                    : Task.FromResult((0, 0)))).ConfigureAwait(false);
            foreach (var entry in due) tried.Add((entry.BlobId, entry.Generation, entry.Slot));
            delivered += results.Sum(r => r.Item1);
            failed += results.Sum(r => r.Item2);
        }
        return new FlushOutcome(delivered, failed, Store.OutboxCount());
    }

    /// <summary>Stops background pushes (their rows stay in the outbox) and closes the mailbox sessions.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await DisposeHealthAsync().ConfigureAwait(false);
        await _tasks.DisposeAsync().ConfigureAwait(false);
        foreach (var connection in Connections) await connection.DisposeAsync().ConfigureAwait(false);
        _applyLock.Dispose();
        _metrics.Dispose();
    }

    private async Task<(int Delivered, int Failed)> FlushSlotAsync(MailboxConnection connection, IReadOnlyList<OutboxEntry> entries, CancellationToken cancellationToken)
    {
        try
        {
            await connection.GetSessionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MailboxUnavailableException e)
        {
            foreach (var entry in entries) Reschedule(entry.BlobId, connection, entry.Attempts + 1, e.Message);
            return (0, entries.Count);
        }
        int delivered = 0, failed = 0;
        using var gate = new SemaphoreSlim(Math.Max(1, _options.FlushParallelism));
        await Task.WhenAll(entries.Select(async entry =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var bytes = Store.ReadBlob(entry.BlobId);
                if (bytes is null)
                {
                    Store.MarkDelivered(entry.BlobId, entry.Generation, entry.Slot);
                    return;
                }
                if (await DeliverAsync(connection, entry.BlobId, bytes, cancellationToken, entry.Attempts).ConfigureAwait(false) is not null)
                    Interlocked.Increment(ref delivered);
                else Interlocked.Increment(ref failed);
            }
            finally
            {
                gate.Release();
            }
        })).ConfigureAwait(false);
        return (delivered, failed);
    }

    /// <summary>One push to one mailbox; the outbox row goes on success and is rescheduled on failure. Returns the cursor,
    /// or null on failure. Cancellation leaves the row as it was.</summary>
    private async Task<ulong?> DeliverAsync(MailboxConnection connection, BlobId id, byte[] bytes, CancellationToken cancellationToken, int attempts = 0)
    {
        try
        {
            var session = await connection.GetSessionAsync(cancellationToken).ConfigureAwait(false);
            using var deadline = new CancellationTokenSource(_options.PushTimeout, _options.TimeProvider);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            MailboxPushResult result;
            try
            {
                result = await session.PushAsync(bytes, id.Digest.ToArray(), _options.TtlSeconds, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"no acknowledgement within {_options.PushTimeout.TotalSeconds:0.#} s");
            }
            Store.MarkDelivered(id, connection.Generation, connection.Slot);
            _metrics.Acked();
            return result.Cursor;
        }
        catch (Exception e) when (e is IOException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            // A refusal leaves the session usable; anything else means the stream is gone.
            if (e is not MailboxException and not MailboxUnavailableException) await connection.FailAsync(e).ConfigureAwait(false);
            var retryAfter = e is MailboxException { RetryAfter: var r } && r > TimeSpan.Zero ? r : (TimeSpan?)null;
            Reschedule(id, connection, attempts + 1, e.Message, retryAfter);
            _metrics.Failed();
            LogPushFailed(_logger, connection.Slot, id.ToString(), e.Message);
            return null;
        }
    }

    private void Reschedule(BlobId id, MailboxConnection connection, int failures, string error, TimeSpan? atLeast = null)
    {
        var delay = OutboxBackoff.Delay(Math.Max(1, failures), _options.Jitter());
        if (atLeast is { } minimum && minimum > delay) delay = minimum;
        Store.MarkFailed(id, connection.Generation, connection.Slot, _options.TimeProvider.GetUtcNow() + delay, error);
    }

    /// <summary>The outbox gauge's reading (0 once the caller disposed the store).</summary>
    private long OutboxDepth()
    {
        try
        {
            return Store.OutboxCount();
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
    }

    private List<MailboxConnection> CreateConnections(Generation generation) =>
        [.. generation.Slots.Select(slot => new MailboxConnection(_host, _resolver, _verifier, _options, generation.Number, generation.SlotKeys[slot], Store.DeviceSecret, OnMailboxConnected, UsedProvidersAsync))];

    [LoggerMessage(Level = LogLevel.Debug, Message = "push of {BlobId} to mailbox {Slot} failed: {Reason}; kept in the outbox")]
    private static partial void LogPushFailed(ILogger logger, string slot, string blobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "mailbox client background task failed")]
    private static partial void LogBackgroundFailure(ILogger logger, Exception exception);
}
