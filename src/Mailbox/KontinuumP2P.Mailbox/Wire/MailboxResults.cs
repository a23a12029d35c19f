namespace KontinuumP2P.Mailbox.Wire;

/// <summary>How a mailbox server keeps blobs.</summary>
public enum MailboxRole
{
    /// <summary>Blobs expire by TTL (clamped by the server).</summary>
    Ephemeral = 1,

    /// <summary>Blobs are kept until every registered device acknowledged them; idle mailboxes expire whole.</summary>
    Replica = 2,
}

/// <summary>The limits a server discloses at Open.</summary>
/// <param name="MaxBlobBytes">Largest blob accepted.</param>
/// <param name="MaxMailboxBytes">Bytes one mailbox may hold.</param>
/// <param name="MaxMailboxBlobs">Blobs one mailbox may hold.</param>
/// <param name="MaxPullBlobs">Blobs in one pull page.</param>
/// <param name="MaxPullBytes">Bytes in one pull page (a single larger blob is still sent alone).</param>
/// <param name="PushesPerMinute">Pushes one device may make per minute.</param>
public sealed record MailboxLimits(int MaxBlobBytes, long MaxMailboxBytes, long MaxMailboxBlobs, int MaxPullBlobs, int MaxPullBytes,
    int PushesPerMinute);

/// <summary>The retention policy a server discloses at Open.</summary>
/// <param name="Role">Ephemeral or replica.</param>
/// <param name="TtlMax">Ceiling of a push's TTL (ephemeral).</param>
/// <param name="TtlDefault">TTL of a push that asks for none (ephemeral).</param>
/// <param name="IdleExpiry">A mailbox not opened for this long is deleted whole (replica).</param>
public sealed record MailboxRetention(MailboxRole Role, TimeSpan TtlMax, TimeSpan TtlDefault, TimeSpan IdleExpiry);

/// <summary>The first answer of a session.</summary>
/// <param name="Epoch">The store's epoch (random; changes only when the store is reset).</param>
/// <param name="MaxCursor">Highest cursor assigned so far (0 = none; cursors start at 1).</param>
/// <param name="Pending">Blobs after this device's ack position.</param>
/// <param name="AckedUpTo">This device's ack position.</param>
/// <param name="Limits">The server's limits.</param>
/// <param name="Retention">The server's retention policy.</param>
public sealed record MailboxOpenResult(ulong Epoch, ulong MaxCursor, ulong Pending, ulong AckedUpTo, MailboxLimits Limits,
    MailboxRetention Retention);

/// <summary>A durable push acknowledgement (sent only after the commit).</summary>
/// <param name="Cursor">The blob's cursor.</param>
/// <param name="Duplicate">The blob id was already stored; <paramref name="Cursor"/> is its original cursor.</param>
/// <param name="Epoch">The store's epoch.</param>
public readonly record struct MailboxPushResult(ulong Cursor, bool Duplicate, ulong Epoch);

/// <summary>One stored blob.</summary>
/// <param name="Cursor">Its cursor.</param>
/// <param name="BlobId">BLAKE3 of <paramref name="Data"/>.</param>
/// <param name="Data">The sealed bytes.</param>
public sealed record MailboxBlob(ulong Cursor, ReadOnlyMemory<byte> BlobId, ReadOnlyMemory<byte> Data);

/// <summary>One pull page.</summary>
/// <param name="Blobs">Blobs in cursor order.</param>
/// <param name="HasMore">More blobs follow the last one.</param>
/// <param name="MaxCursor">Highest cursor assigned.</param>
/// <param name="Epoch">The store's epoch.</param>
public sealed record MailboxPullResult(IReadOnlyList<MailboxBlob> Blobs, bool HasMore, ulong MaxCursor, ulong Epoch);

/// <summary>A notification that the mailbox has grown (coalesced: only the newest position matters).</summary>
/// <param name="MaxCursor">Highest cursor assigned.</param>
/// <param name="Epoch">The store's epoch.</param>
public readonly record struct MailboxNotification(ulong MaxCursor, ulong Epoch);

/// <summary>The answer to a device removal.</summary>
/// <param name="Removed">The device was registered and is now removed (false: it was removed already or never opened;
/// it is barred either way).</param>
/// <param name="Devices">Devices still counting for all-device retention.</param>
public readonly record struct MailboxDeviceRemoval(bool Removed, int Devices);
