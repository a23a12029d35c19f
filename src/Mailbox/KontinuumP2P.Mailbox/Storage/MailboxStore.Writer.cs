using System.Security.Cryptography;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Mailbox.Storage;

public sealed partial class MailboxStore
{
    private readonly Dictionary<long, MailboxState> _cache = [];
    private readonly HashSet<MailboxState> _touched = [];
    private readonly List<long> _removedRows = [];
    private readonly HashSet<long> _trimDue = [];
    private SqliteCommand _begin = null!, _commit = null!, _insertBlob = null!, _findDuplicate = null!, _updateMailbox = null!,
        _updateMeta = null!, _upsertDevice = null!;
    private long _wMailboxes, _wBlobs, _wBytes, _cMailboxes, _cBlobs, _cBytes, _batchPushes, _batchDuplicates, _batchDeleted;

    private void PrepareWriterCommands()
    {
        _wMailboxes = _cMailboxes = _mailboxes;
        _wBlobs = _cBlobs = _blobs;
        _wBytes = _cBytes = _bytes;
        _begin = Command("BEGIN IMMEDIATE");
        _commit = Command("COMMIT");
        _insertBlob = Command("INSERT INTO blobs (k, blob_id, data, expires) VALUES ($k, $id, $data, $expires)", "$k", "$id", "$data", "$expires");
        // Through the 8-byte tag index (forced: a scan of the mailbox's key range would also answer), the full id checked on the row.
        _findDuplicate = Command("""
            SELECT k FROM blobs INDEXED BY blobs_by_tag WHERE substr(blob_id, 1, 8) = substr($id, 1, 8) AND blob_id = $id
            AND k > $lo AND k < $hi LIMIT 1
            """, "$id", "$lo", "$hi");
        _updateMailbox = Command("""
            UPDATE mailboxes SET next_cursor = $next, bytes = $bytes, blobs = $blobs, last_access = $access, trimmed = $trimmed
            WHERE id = $row
            """, "$next", "$bytes", "$blobs", "$access", "$trimmed", "$row");
        _updateMeta = Command("UPDATE meta SET mailboxes = $mailboxes, blobs = $blobs, bytes = $bytes WHERE id = 1", "$mailboxes", "$blobs", "$bytes");
        _upsertDevice = Command("""
            INSERT INTO devices (mailbox, device_id, acked) VALUES ($row, $device, $acked)
            ON CONFLICT (mailbox, device_id) DO UPDATE SET acked = excluded.acked
            """, "$row", "$device", "$acked");
    }

    private SqliteCommand Command(string sql, params string[] parameters)
    {
        var command = _writer.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters) command.Parameters.Add(new SqliteParameter(name, null));
        return command;
    }

    private void DisposeWriterCommands()
    {
        foreach (var command in new[] { _begin, _commit, _insertBlob, _findDuplicate, _updateMailbox, _updateMeta, _upsertDevice })
            command?.Dispose();
    }

    private async Task WriterLoopAsync(CancellationToken stopping)
    {
        var batch = new List<WriteOp>(_options.MaxBatchOperations);
        try
        {
            // On its own thread (DedicatedLoop): the awaits keep its context, so commits never occupy a pool thread.
            // Drains until the queue is completed at dispose, so queued pushes are committed or refused, never dropped.
            while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
            {
                if (BeforeBatch is { } hook) await hook();
                batch.Clear();
                while (batch.Count < _options.MaxBatchOperations && _queue.Reader.TryRead(out var op)) batch.Add(op);
                if (batch.Count == 0 || CommitBatch(batch) is not { } group) continue;
                // Overlapped: the flush task acks the group after a WAL flush; the writer goes on with the next group.
                if (_unflushed is null) Release(group);
                else if (!_unflushed.Writer.TryWrite(group))
                {
                    // The flush task is MaxUnflushedGroups behind: the writer waits (timed for the bench).
                    var waiting = _time.GetTimestamp();
                    await _unflushed.Writer.WriteAsync(group, CancellationToken.None);
                    BackpressureTimes.Record(_time.GetElapsedTime(waiting));
                    Stalls.Record("flush backpressure", waiting, _time.GetElapsedTime(waiting));
                }
                RestartWalIfWanted();
            }
        }
        finally
        {
            _unflushed?.Writer.TryComplete();
        }
    }

    private CommittedGroup? CommitBatch(List<WriteOp> batch)
    {
        if (Volatile.Read(ref _flushFault) is not null)
        {
            var refused = new MailboxException(MailboxErrorCode.Internal, "the mailbox store could not flush its log earlier; it takes no more writes");
            foreach (var op in batch) op.Fail(refused);
            return null;
        }
        var started = _time.GetTimestamp();
        try
        {
            _begin.ExecuteNonQuery();
            foreach (var op in batch) op.Apply(this);
            FlushCounters();
            _commit.ExecuteNonQuery();
        }
        catch (Exception e) when (e is SqliteException or InvalidOperationException or IOException)
        {
            Log.CommitFailed(_logger, batch.Count, e);
            try
            {
                Execute("ROLLBACK");
            }
            catch (SqliteException)
            {
                // No transaction left to roll back (SQLite rolled it back itself).
            }
            ResetWriterState();
            var error = new MailboxException(MailboxErrorCode.Internal, "the mailbox store could not commit; nothing was stored");
            foreach (var op in batch) op.Fail(error);
            return null;
        }
        var elapsed = _time.GetElapsedTime(started);
        _metrics.Committed(batch.Count, elapsed);
        CommitTimes.Record(elapsed);
        Stalls.Record(_restartCommitPending ? "restart commit" : "commit", started, elapsed);
        // The first commit after a writer checkpoint restarts the WAL (writes and, unless synchronous=OFF, syncs its header).
        if (_restartCommitPending)
        {
            _restartCommitPending = false;
            RestartCommitTimes.Record(elapsed);
        }
        return Snapshot(batch);
    }

    private void FlushCounters()
    {
        foreach (var state in _touched)
        {
            if (!state.Dirty) continue;
            Bind(_updateMailbox, (long)state.NextCursor, state.Bytes, state.Blobs, state.LastAccess, (long)state.Trimmed, state.Row);
            _updateMailbox.ExecuteNonQuery();
        }
        Bind(_updateMeta, _wMailboxes, _wBlobs, _wBytes);
        _updateMeta.ExecuteNonQuery();
    }

    /// <summary>On the writer right after a commit: what the group changed, for <see cref="Release"/>, and the writer's per-batch state reset.</summary>
    private CommittedGroup Snapshot(List<WriteOp> batch)
    {
        var published = new (long Row, ulong MaxCursor)[_touched.Count];
        List<(long, ulong)>? grown = null;
        var i = 0;
        foreach (var state in _touched)
        {
            state.Dirty = false;
            published[i++] = (state.Row, state.MaxCursor);
            if (state.Grew)
            {
                state.Grew = false;
                (grown ??= []).Add((state.Row, state.MaxCursor));
            }
        }
        _touched.Clear();
        long[] removed = _removedRows.Count == 0 ? [] : [.. _removedRows];
        _removedRows.Clear();
        _cMailboxes = _wMailboxes;
        _cBlobs = _wBlobs;
        _cBytes = _wBytes;
        var group = new CommittedGroup(++_commitSequence, [.. batch], published, removed, grown, _wMailboxes, _wBlobs, _wBytes,
            _batchPushes, _batchDuplicates, _batchDeleted);
        _batchPushes = _batchDuplicates = _batchDeleted = 0;
        Volatile.Write(ref _committedSequence, group.Sequence);
        Committed?.Invoke(group.Sequence);
        return group;
    }

    /// <summary>
    /// Makes a committed (and, when overlapped, flushed) group visible: cursors to pulls, counters, notifications, then
    /// the answers. Runs in commit order, on the writer or on the flush task.
    /// </summary>
    private void Release(CommittedGroup group)
    {
        foreach (var (row, max) in group.Published) _published[row] = max;
        foreach (var row in group.Removed) _published.TryRemove(row, out _);
        Volatile.Write(ref _mailboxes, group.Mailboxes);
        Volatile.Write(ref _blobs, group.Blobs);
        Volatile.Write(ref _bytes, group.Bytes);
        Interlocked.Add(ref _pushes, group.Pushes);
        Interlocked.Add(ref _duplicates, group.Duplicates);
        Interlocked.Add(ref _deleted, group.Deleted);
        Interlocked.Increment(ref _batches);
        _metrics.Counted(group.Pushes, group.Duplicates, group.Deleted);
        if (group.Grown is not null) Grown?.Invoke(group.Grown);
        foreach (var op in group.Ops) op.Complete();
    }

    private void ResetWriterState()
    {
        _cache.Clear();
        _touched.Clear();
        _removedRows.Clear();
        _trimDue.Clear();
        _batchPushes = _batchDuplicates = _batchDeleted = 0;
        // The last committed values: with overlapped flushes the published ones may still lag behind them.
        _wMailboxes = _cMailboxes;
        _wBlobs = _cBlobs;
        _wBytes = _cBytes;
        _wTombstones = CountTombstones();
    }

    private static void Bind(SqliteCommand command, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++) command.Parameters[i].Value = values[i] ?? DBNull.Value;
    }

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private MailboxState Touch(MailboxState state)
    {
        state.Dirty = true;
        _touched.Add(state);
        return state;
    }

    private MailboxState? LoadState(long row)
    {
        if (_cache.TryGetValue(row, out var cached)) return cached;
        MailboxState state;
        using (var command = _writer.CreateCommand())
        {
            command.CommandText = """
                SELECT cap_hash, archive_key IS NOT NULL, next_cursor, bytes, blobs, last_access, trimmed FROM mailboxes WHERE id = $row
                """;
            command.Parameters.AddWithValue("$row", row);
            using var reader = command.ExecuteReader();
            if (!reader.Read()) return null;
            state = new MailboxState
            {
                Row = row,
                Epoch = MailboxEpoch(row),
                CapabilityHash = (byte[])reader[0],
                HasArchiveKey = reader.GetBoolean(1),
                NextCursor = (ulong)reader.GetInt64(2),
                Bytes = reader.GetInt64(3),
                Blobs = reader.GetInt64(4),
                LastAccess = reader.GetInt64(5),
                Trimmed = (ulong)reader.GetInt64(6),
            };
        }
        using (var devices = _writer.CreateCommand())
        {
            devices.CommandText = "SELECT device_id, acked FROM devices WHERE mailbox = $row";
            devices.Parameters.AddWithValue("$row", row);
            using var reader = devices.ExecuteReader();
            while (reader.Read()) state.Devices[Convert.ToHexString((byte[])reader[0])] = (ulong)reader.GetInt64(1);
        }
        using (var removed = _writer.CreateCommand())
        {
            removed.CommandText = "SELECT device_id FROM removed_devices WHERE mailbox = $row";
            removed.Parameters.AddWithValue("$row", row);
            using var reader = removed.ExecuteReader();
            while (reader.Read()) state.Removed.Add(Convert.ToHexString((byte[])reader[0]));
        }
        _cache[row] = state;
        return state;
    }

    private MailboxOpened ApplyOpen(byte[] mailboxId, byte[] capabilityHash, byte[] deviceId, byte[]? archiveKey)
    {
        long row;
        using (var find = _writer.CreateCommand())
        {
            find.CommandText = "SELECT id FROM mailboxes WHERE mailbox_id = $id";
            find.Parameters.AddWithValue("$id", mailboxId);
            row = find.ExecuteScalar() is long found ? found : 0;
        }
        var device = Convert.ToHexString(deviceId);
        var now = Now;
        var created = row == 0;
        MailboxState state;
        if (created)
        {
            CheckTombstone(mailboxId, now);
            if (_wMailboxes >= _options.MaxMailboxes)
                throw new MailboxException(MailboxErrorCode.ServerFull, $"the server holds its maximum of {_options.MaxMailboxes} mailboxes");
            using var insert = _writer.CreateCommand();
            insert.CommandText = """
                INSERT INTO mailboxes (mailbox_id, cap_hash, archive_key, next_cursor, bytes, blobs, last_access, trimmed)
                VALUES ($id, $cap, $archive, 1, 0, 0, $now, 0) RETURNING id
                """;
            insert.Parameters.AddWithValue("$id", mailboxId);
            insert.Parameters.AddWithValue("$cap", capabilityHash);
            insert.Parameters.AddWithValue("$archive", (object?)archiveKey ?? DBNull.Value);
            insert.Parameters.AddWithValue("$now", now);
            row = (long)insert.ExecuteScalar()!;
            if (row > MailboxKeys.MaxRow) throw new InvalidOperationException("mailbox row ids are exhausted");
            _wMailboxes++;
            state = new MailboxState { Row = row, Epoch = MailboxEpoch(row), CapabilityHash = capabilityHash, HasArchiveKey = archiveKey is not null, NextCursor = 1, LastAccess = now };
            _cache[row] = state;
        }
        else
        {
            state = LoadState(row)!;
            if (!CryptographicOperations.FixedTimeEquals(state.CapabilityHash, capabilityHash))
                throw new MailboxException(MailboxErrorCode.Unauthorized, "the capability does not open this mailbox");
            if (state.Removed.Contains(device))
                throw new MailboxException(MailboxErrorCode.DeviceRemoved, "this device was removed from the mailbox");
            if (!state.Devices.ContainsKey(device) && state.Devices.Count >= _options.MaxDevicesPerMailbox)
                throw new MailboxException(MailboxErrorCode.MailboxQuota, $"the mailbox has its maximum of {_options.MaxDevicesPerMailbox} devices");
            if (archiveKey is not null && !state.HasArchiveKey)
            {
                using var update = _writer.CreateCommand();
                update.CommandText = "UPDATE mailboxes SET archive_key = $archive WHERE id = $row";
                update.Parameters.AddWithValue("$archive", archiveKey);
                update.Parameters.AddWithValue("$row", row);
                update.ExecuteNonQuery();
                state.HasArchiveKey = true;
            }
        }
        if (!state.Devices.TryGetValue(device, out var acked))
        {
            Bind(_upsertDevice, row, deviceId, 0L);
            _upsertDevice.ExecuteNonQuery();
            state.Devices[device] = 0;
        }
        state.LastAccess = now;
        Touch(state);
        return new MailboxOpened(new MailboxHandle(row, mailboxId, deviceId, state.Epoch), state.MaxCursor, acked, created);
    }

    private MailboxPushResult ApplyPush(long row, byte[] blobId, byte[] data, TimeSpan ttl)
    {
        var state = LoadState(row) ?? throw new MailboxException(MailboxErrorCode.NotOpen, "the mailbox expired; open it again");
        var now = Now;
        Bind(_findDuplicate, blobId, MailboxKeys.First(row), MailboxKeys.End(row));
        if (_findDuplicate.ExecuteScalar() is long existing)
        {
            _batchDuplicates++;
            state.LastAccess = now;
            Touch(state);
            return new MailboxPushResult(MailboxKeys.CursorOf(existing), true, state.Epoch);
        }
        if (state.Blobs + 1 > _options.MaxMailboxBlobs || state.NextCursor > MailboxKeys.MaxCursor)
            throw new MailboxException(MailboxErrorCode.MailboxQuota, $"the mailbox holds its maximum of {_options.MaxMailboxBlobs} blobs");
        if (state.Bytes + data.Length > _options.MaxMailboxBytes)
            throw new MailboxException(MailboxErrorCode.MailboxQuota, $"the mailbox would exceed its {_options.MaxMailboxBytes}-byte quota");
        if (_wBytes + ((_wBlobs + 1) * MailboxStoreOptions.BlobOverheadBytes) + data.Length > _options.MaxDbBytes)
            throw new MailboxException(MailboxErrorCode.ServerFull, "the server's database is full");
        var cursor = state.NextCursor;
        Bind(_insertBlob, MailboxKeys.Key(row, cursor), blobId, data, ttl > TimeSpan.Zero ? now + (long)ttl.TotalMilliseconds : 0L);
        _insertBlob.ExecuteNonQuery();
        state.NextCursor = cursor + 1;
        state.Bytes += data.Length;
        state.Blobs++;
        state.LastAccess = now;
        state.Grew = true;
        Touch(state);
        _wBlobs++;
        _wBytes += data.Length;
        _batchPushes++;
        return new MailboxPushResult(cursor, false, state.Epoch);
    }

    private ulong ApplyAck(long row, byte[] deviceId, ulong upTo)
    {
        var state = LoadState(row) ?? throw new MailboxException(MailboxErrorCode.NotOpen, "the mailbox expired; open it again");
        if (upTo > state.MaxCursor) throw new MailboxException(MailboxErrorCode.BadCursor, $"cursor {upTo} is past the end ({state.MaxCursor})");
        var device = Convert.ToHexString(deviceId);
        if (state.Removed.Contains(device)) throw new MailboxException(MailboxErrorCode.DeviceRemoved, "this device was removed from the mailbox");
        if (!state.Devices.TryGetValue(device, out var acked))
            throw new MailboxException(MailboxErrorCode.NotOpen, "the device is not registered; open the mailbox again");
        if (upTo <= acked) return acked;
        Bind(_upsertDevice, row, deviceId, (long)upTo);
        _upsertDevice.ExecuteNonQuery();
        state.Devices[device] = upTo;
        if (_options.Role == MailboxRole.Replica && state.MinAck > state.Trimmed)
        {
            _trimDue.Add(row);
            if (_cleanupWake.CurrentCount == 0)
            {
                try
                {
                    _cleanupWake.Release();
                }
                catch (SemaphoreFullException)
                {
                    // Already woken.
                }
            }
        }
        return upTo;
    }
}
