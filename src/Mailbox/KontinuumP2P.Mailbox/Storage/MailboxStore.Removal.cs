using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Storage;

public sealed partial class MailboxStore
{
    private const int TombstonesPerStep = 512;
    private long _wTombstones;

    /// <summary>Tombstoned (closed) mailbox ids held now, expired ones included until cleanup deletes them.</summary>
    public long Tombstones => Interlocked.Read(ref _wTombstones);

    /// <summary>
    /// Removes <paramref name="deviceId"/> from the mailbox <paramref name="mailbox"/> was opened on: its ack position no
    /// longer holds back all-device retention and it is refused from now on (<see cref="MailboxErrorCode.DeviceRemoved"/>
    /// at open and ack). Idempotent. The device asking must still be registered and may not remove itself.
    /// </summary>
    /// <exception cref="MailboxException">DEVICE_REMOVED (the asking device was removed), UNAUTHORIZED (removing
    /// itself), MAILBOX_QUOTA (the mailbox remembers its maximum of removed devices: rotate instead), NOT_OPEN (the
    /// mailbox is gone).</exception>
    public Task<MailboxDeviceRemoval> RemoveDeviceAsync(MailboxHandle mailbox, ReadOnlyMemory<byte> deviceId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        if (deviceId.Length is < MailboxProtocol.MinDeviceIdLength or > MailboxProtocol.MaxDeviceIdLength)
            throw new ArgumentException("a device id has 16 to 32 bytes", nameof(deviceId));
        return EnqueueAsync(new RemoveDeviceOp(mailbox.Row, mailbox.DeviceId.ToArray(), deviceId.ToArray()), cancellationToken);
    }

    /// <summary>
    /// Deletes the mailbox <paramref name="mailbox"/> was opened on (its blobs go in bounded cleanup steps) and tombstones
    /// its id for <see cref="MailboxStoreOptions.TombstoneLifetime"/>: opens of that id are refused with
    /// <see cref="MailboxErrorCode.MailboxClosed"/> until then. At most <see cref="MailboxStoreOptions.MaxTombstones"/>
    /// are kept; the one expiring first is evicted to make room. Returns the blobs the mailbox held.
    /// </summary>
    /// <exception cref="MailboxException">DEVICE_REMOVED (the asking device was removed), NOT_OPEN (already gone).</exception>
    public Task<ulong> CloseMailboxAsync(MailboxHandle mailbox, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        return EnqueueAsync(new CloseOp(mailbox.Row, mailbox.MailboxId.ToArray(), mailbox.DeviceId.ToArray()), cancellationToken);
    }

    /// <summary>Whether the mailbox behind <paramref name="mailbox"/> still exists (not closed, not expired).</summary>
    internal bool IsLive(MailboxHandle mailbox)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        return _published.ContainsKey(mailbox.Row);
    }

    private MailboxState LiveState(long row, byte[] requester)
    {
        var state = LoadState(row) ?? throw new MailboxException(MailboxErrorCode.NotOpen, "the mailbox was closed or expired; open it again");
        if (state.Removed.Contains(Convert.ToHexString(requester)))
            throw new MailboxException(MailboxErrorCode.DeviceRemoved, "this device was removed from the mailbox");
        return state;
    }

    private MailboxDeviceRemoval ApplyRemoveDevice(long row, byte[] requester, byte[] deviceId)
    {
        var state = LiveState(row, requester);
        var device = Convert.ToHexString(deviceId);
        if (device == Convert.ToHexString(requester)) throw new MailboxException(MailboxErrorCode.Unauthorized, "a device cannot remove itself");
        if (state.Removed.Contains(device)) return new MailboxDeviceRemoval(false, state.Devices.Count);
        if (state.Removed.Count >= _options.MaxRemovedDevicesPerMailbox)
            throw new MailboxException(MailboxErrorCode.MailboxQuota,
                $"the mailbox remembers its maximum of {_options.MaxRemovedDevicesPerMailbox} removed devices; rotate the group instead");
        using (var command = _writer.CreateCommand())
        {
            command.CommandText = """
                DELETE FROM devices WHERE mailbox = $row AND device_id = $device;
                INSERT OR IGNORE INTO removed_devices (mailbox, device_id) VALUES ($row, $device);
                """;
            command.Parameters.AddWithValue("$row", row);
            command.Parameters.AddWithValue("$device", deviceId);
            command.ExecuteNonQuery();
        }
        var registered = state.Devices.Remove(device);
        state.Removed.Add(device);
        state.LastAccess = Now;
        Touch(state);
        // The removed device may have been the one holding retention back.
        if (_options.Role == MailboxRole.Replica && TrimLimit(state) > state.Trimmed)
        {
            _trimDue.Add(row);
            WakeCleanup();
        }
        return new MailboxDeviceRemoval(registered, state.Devices.Count);
    }

    private ulong ApplyClose(long row, byte[] mailboxId, byte[] requester)
    {
        var state = LiveState(row, requester);
        var blobs = (ulong)state.Blobs;
        DeleteMailboxRow(row);
        var until = Now + (long)_options.TombstoneLifetime.TotalMilliseconds;
        if (_wTombstones >= _options.MaxTombstones)
        {
            using var evict = _writer.CreateCommand();
            evict.CommandText = "DELETE FROM tombstones WHERE mailbox_id IN (SELECT mailbox_id FROM tombstones ORDER BY until LIMIT $n)";
            evict.Parameters.AddWithValue("$n", _wTombstones - _options.MaxTombstones + 1);
            _wTombstones -= evict.ExecuteNonQuery();
        }
        using (var insert = _writer.CreateCommand())
        {
            // A mailbox id can be tombstoned already only after its tombstone was evicted and it was re-created.
            insert.CommandText = "INSERT OR IGNORE INTO tombstones (mailbox_id, until) VALUES ($id, $until)";
            insert.Parameters.AddWithValue("$id", mailboxId);
            insert.Parameters.AddWithValue("$until", until);
            if (insert.ExecuteNonQuery() == 1)
            {
                _wTombstones++;
            }
            else
            {
                insert.CommandText = "UPDATE tombstones SET until = $until WHERE mailbox_id = $id";
                insert.ExecuteNonQuery();
            }
        }
        WakeCleanup();
        return blobs;
    }

    /// <summary>Refuses to re-create a closed mailbox while its tombstone lasts.</summary>
    private void CheckTombstone(byte[] mailboxId, long now)
    {
        if (_wTombstones == 0) return;
        using var find = _writer.CreateCommand();
        find.CommandText = "SELECT until FROM tombstones WHERE mailbox_id = $id";
        find.Parameters.AddWithValue("$id", mailboxId);
        if (find.ExecuteScalar() is long until && until > now)
            throw new MailboxException(MailboxErrorCode.MailboxClosed, "the mailbox was closed; its group rotated to new mailboxes");
    }

    private CleanupStep TombstoneStep()
    {
        if (_wTombstones == 0) return default;
        using var delete = _writer.CreateCommand();
        delete.CommandText = "DELETE FROM tombstones WHERE mailbox_id IN (SELECT mailbox_id FROM tombstones WHERE until <= $now ORDER BY until LIMIT $n)";
        delete.Parameters.AddWithValue("$now", Now);
        delete.Parameters.AddWithValue("$n", TombstonesPerStep);
        var deleted = delete.ExecuteNonQuery();
        _wTombstones -= deleted;
        return new CleanupStep(0, 0, deleted == TombstonesPerStep);
    }

    internal long CountTombstones()
    {
        using var count = _writer.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM tombstones";
        return (long)count.ExecuteScalar()!;
    }
}
