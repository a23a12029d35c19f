using System.Text.Json;
using KontinuumP2P.Hq.Allocation;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Hq.Registry;

/// <summary>One drain as the registry keeps it: the slot was re-pointed from <paramref name="OldNode"/> to <paramref name="NewNode"/>.</summary>
/// <param name="Slot">The slot.</param>
/// <param name="OldNode">The drained node (to be decommissioned).</param>
/// <param name="NewNode">The node the slot's record names now.</param>
/// <param name="SpareId">The spare that took the slot over (HQ starts it), or null.</param>
/// <param name="Role">The slot's role.</param>
/// <param name="StartedAt">When the slot was re-pointed.</param>
/// <param name="Ttl">Longest blob TTL (an ephemeral slot is decommissioned this long after the re-pointing).</param>
/// <param name="Delivered">Whether HQ's node started the spare and published the record.</param>
/// <param name="Report">The old node's latest drain report received after the re-pointing, or null.</param>
/// <param name="FinishedAt">When it was decommissioned, or null while open.</param>
/// <param name="Outcome">How it finished (<c>decommissioned</c> or <c>forced: reason</c>), or null.</param>
public sealed record DrainEntry(string Slot, string OldNode, string NewNode, string? SpareId, MailboxRole Role, DateTimeOffset StartedAt, TimeSpan Ttl,
    bool Delivered, DrainNodeReport? Report, DateTimeOffset? FinishedAt, string? Outcome)
{
    /// <summary>The decommission gate over this drain (sans-I/O).</summary>
    public DrainProgress Progress(TimeSpan settle)
    {
        var progress = new DrainProgress(Slot, Role, [Slot], Ttl, StartedAt);
        // Re-pointing the slot moves every group on it at once.
        progress.GroupMoved(Slot, StartedAt);
        if (Report is { } r) progress.NodeReported(r, settle);
        return progress;
    }
}

public sealed partial class FleetRegistry
{
    // Drains kept: open ones are bounded by the slots; finished ones are evicted oldest first past this.
    internal const int MaxFinishedDrains = 256;

    /// <summary>
    /// Re-points <paramref name="slot"/> from its node to <paramref name="spareId"/> (same provider) in one transaction
    /// with its audit entry <c>slot.drain</c>: the spare is used, the slot's sequence grows, and a drain of the old node
    /// is recorded (delivered by HQ's node: it starts the spare and publishes the record).
    /// </summary>
    /// <exception cref="InvalidOperationException">The spare is unknown or used, or the slot's node is being drained already.</exception>
    /// <exception cref="KeyNotFoundException">Unknown slot.</exception>
    public DrainEntry StartDrain(string actor, string slot, string spareId, TimeSpan ttl) =>
        _db.InTransaction((c, tx) =>
        {
            var existing = GetSlot(c, tx, slot) ?? throw new KeyNotFoundException($"unknown slot '{slot}'");
            if (existing.Status is not (SlotStatus.Active or SlotStatus.Draining))
                throw new InvalidOperationException($"slot '{slot}' is {existing.Status.ToString().ToLowerInvariant()}: only a serving slot is drained");
            if (ReadDrains(c, tx, "WHERE slot = $s AND old_node = $n AND finished_at IS NULL", ("$s", slot), ("$n", existing.NodeId)).Count > 0)
                throw new InvalidOperationException($"{existing.NodeId} of slot '{slot}' is being drained already");
            var (provider, region) = ClaimSpare(c, tx, spareId, slot);
            var now = _time.GetUtcNow();
            Exec(c, tx, "UPDATE slots SET node_id = $n, region = $r, status = $st, sequence = sequence + 1, level = 0, updated_at = $t WHERE slot = $s",
                ("$n", spareId), ("$r", region), ("$st", (int)SlotStatus.Active), ("$t", now.ToUnixTimeMilliseconds()), ("$s", slot));
            Exec(c, tx, """
                INSERT INTO drains(slot, old_node, new_node, spare_id, role, started_at, ttl_ms, delivered)
                VALUES ($s, $o, $n, $i, $role, $t, $ttl, 0)
                """, ("$s", slot), ("$o", existing.NodeId), ("$n", spareId), ("$i", spareId), ("$role", (int)existing.Role),
                ("$t", now.ToUnixTimeMilliseconds()), ("$ttl", (long)ttl.TotalMilliseconds));
            _audit.Append(c, tx, actor, "slot.drain", JsonSerializer.Serialize(new
            {
                slot, oldNodeId = existing.NodeId, nodeId = spareId, provider, region, sequence = existing.Sequence + 1,
                role = existing.Role.ToString(), ttlSeconds = (long)ttl.TotalSeconds,
            }));
            return ReadDrains(c, tx, "WHERE slot = $s AND old_node = $n", ("$s", slot), ("$n", existing.NodeId)).Single();
        });

    /// <summary>One spare of the pool (used or not), or null.</summary>
    public SpareEntry? GetSpare(string id) => _db.Read(c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id, provider, region, directory, used_by FROM spares WHERE id = $i";
        cmd.Parameters.AddWithValue("$i", id);
        using var r = cmd.ExecuteReader();
        return r.Read() ? new SpareEntry(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4)) : null;
    });

    /// <summary>Drains not decommissioned yet, by slot.</summary>
    public IReadOnlyList<DrainEntry> OpenDrains() => _db.Read(c => (IReadOnlyList<DrainEntry>)ReadDrains(c, null, "WHERE finished_at IS NULL"));

    /// <summary>Every drain kept (open, and the latest finished ones), by slot.</summary>
    public IReadOnlyList<DrainEntry> Drains() => _db.Read(c => (IReadOnlyList<DrainEntry>)ReadDrains(c, null, ""));

    /// <summary>HQ's node started the drain's spare (if any) and published the slot's record.</summary>
    public void DrainDelivered(string slot, string oldNode) =>
        _db.InTransaction((c, tx) =>
        {
            Exec(c, tx, "UPDATE drains SET delivered = 1 WHERE slot = $s AND old_node = $o", ("$s", slot), ("$o", oldNode));
            return 0;
        });

    /// <summary>Finished drains whose old node HQ started from its spare pool and has not stopped yet.</summary>
    public IReadOnlyList<DrainEntry> DrainsToStop() => _db.Read(c => (IReadOnlyList<DrainEntry>)ReadDrains(c, null,
        "WHERE finished_at IS NOT NULL AND stopped = 0 AND old_node IN (SELECT id FROM spares)"));

    /// <summary>The old node of a finished drain was stopped (or HQ gave up on stopping it).</summary>
    public void DrainStopped(string actor, DrainEntry drain, string result)
    {
        ArgumentNullException.ThrowIfNull(drain);
        _db.InTransaction((c, tx) =>
        {
            Exec(c, tx, "UPDATE drains SET stopped = 1 WHERE slot = $s AND old_node = $o", ("$s", drain.Slot), ("$o", drain.OldNode));
            _audit.Append(c, tx, actor, "node.stop", JsonSerializer.Serialize(new { slot = drain.Slot, nodeId = drain.OldNode, result }));
            return 0;
        });
    }

    /// <summary>
    /// Keeps an open drain's latest report from its old node (one row per drain, overwritten). Returns false, and
    /// stores nothing, when <paramref name="oldNode"/> has no open drain.
    /// </summary>
    public bool RecordDrainReport(string oldNode, DrainNodeReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return _db.InTransaction((c, tx) =>
        {
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = """
                UPDATE drains SET report_at = $t, report_open = $o, report_with_blobs = $b
                WHERE old_node = $n AND finished_at IS NULL
                """;
            cmd.Parameters.AddWithValue("$t", report.ReceivedAt.ToUnixTimeMilliseconds());
            cmd.Parameters.AddWithValue("$o", report.OpenMailboxes);
            cmd.Parameters.AddWithValue("$b", report.MailboxesWithBlobs);
            cmd.Parameters.AddWithValue("$n", oldNode);
            return cmd.ExecuteNonQuery() > 0;
        });
    }

    /// <summary>Closes a drain (decommissioned, or forced) with its audit entry; finished drains past the bound are evicted, oldest first.</summary>
    public void FinishDrain(string actor, DrainEntry drain, string outcome, string reason)
    {
        ArgumentNullException.ThrowIfNull(drain);
        _db.InTransaction((c, tx) =>
        {
            Exec(c, tx, "UPDATE drains SET finished_at = $t, outcome = $out WHERE slot = $s AND old_node = $o AND finished_at IS NULL",
                ("$t", _time.GetUtcNow().ToUnixTimeMilliseconds()), ("$out", outcome), ("$s", drain.Slot), ("$o", drain.OldNode));
            Exec(c, tx, """
                DELETE FROM drains WHERE rowid IN (SELECT rowid FROM drains WHERE finished_at IS NOT NULL
                  ORDER BY finished_at DESC LIMIT -1 OFFSET $keep)
                """, ("$keep", MaxFinishedDrains));
            _audit.Append(c, tx, actor, "slot.decommission", JsonSerializer.Serialize(new
            {
                slot = drain.Slot, nodeId = drain.OldNode, outcome, reason, report = drain.Report,
            }));
            return 0;
        });
    }

    private static List<DrainEntry> ReadDrains(SqliteConnection c, SqliteTransaction? tx, string where, params (string Name, object Value)[] args)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"""
            SELECT slot, old_node, new_node, spare_id, role, started_at, ttl_ms, delivered, report_at, report_open, report_with_blobs, finished_at, outcome
            FROM drains {where} ORDER BY slot, started_at
            """;
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v);
        var list = new List<DrainEntry>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var report = r.IsDBNull(8) ? null
                : new DrainNodeReport(r.GetInt32(9), r.GetInt32(10), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(8)));
            list.Add(new DrainEntry(r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), (MailboxRole)r.GetInt32(4),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)), TimeSpan.FromMilliseconds(r.GetInt64(6)), r.GetInt32(7) != 0, report,
                r.IsDBNull(11) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(11)), r.IsDBNull(12) ? null : r.GetString(12)));
        }
        return list;
    }
}
