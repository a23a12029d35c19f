namespace KontinuumP2P.Mailbox.Content;

public sealed partial class ContentStore
{
    private long _archiveHeld;

    /// <summary>Expired contents the last <see cref="RemoveExpired"/> kept because the archive does not have them yet.</summary>
    public long ArchiveHeld => Interlocked.Read(ref _archiveHeld);

    /// <summary>Drops from <paramref name="expired"/> the contents the archive hold keeps (counted in <see cref="ArchiveHeld"/>).</summary>
    private void KeepArchiveHeld(List<ContentId> expired)
    {
        Interlocked.Exchange(ref _archiveHeld, 0);
        expired.RemoveAll(HeldForArchive);
    }

    // Held: a hold is configured, the content is complete (so it can be archived whole; a partial upload never will be),
    // it is within MaxArchiveHold of its expiry, and the archive does not have it. The predicate runs outside the lock.
    private bool HeldForArchive(ContentId id)
    {
        if (Options.ArchiveHold is not { } hold) return false;
        DateTimeOffset expires;
        lock (_lock)
        {
            if (!_entries.TryGetValue(id, out var entry) || !entry.Have.Cast<bool>().All(b => b)) return false;
            expires = entry.Expires;
        }
        if (_time.GetUtcNow() >= expires + Options.MaxArchiveHold || !hold(id)) return false;
        Interlocked.Increment(ref _archiveHeld);
        return true;
    }
}
