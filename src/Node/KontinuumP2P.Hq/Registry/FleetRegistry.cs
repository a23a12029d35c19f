using System.Text.Json;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Audit;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Hq.Registry;

/// <summary>A slot as the registry keeps it.</summary>
/// <param name="Slot">Slot name.</param>
/// <param name="NodeId">Node holding it (base58 peer id).</param>
/// <param name="Provider">Provider.</param>
/// <param name="Region">Region.</param>
/// <param name="Role">Role.</param>
/// <param name="Status">Status.</param>
/// <param name="Capacity">Groups it can hold.</param>
/// <param name="Sequence">Sequence of its slot record.</param>
/// <param name="AssignedGroups">Groups assigned.</param>
/// <param name="Level">Last escalation level HQ computed.</param>
public sealed record SlotEntry(string Slot, string NodeId, string Provider, string Region, MailboxRole Role, SlotStatus Status, int Capacity, ulong Sequence, int AssignedGroups,
    KontinuumP2P.Mailbox.Health.HealthLevel Level)
{
    /// <summary>The allocator's view.</summary>
    public SlotInfo ToInfo() => new(Slot, Provider, Region, Role, Status, AssignedGroups, Capacity);
}

/// <summary>A spare identity of the provisioning pool.</summary>
/// <param name="Id">Node id.</param>
/// <param name="Provider">Provider its certificate names.</param>
/// <param name="Region">Geo zone its certificate names.</param>
/// <param name="Directory">Where its key and certificate are.</param>
/// <param name="UsedBy">Slot it took over, if used.</param>
public sealed record SpareEntry(string Id, string Provider, string Region, string Directory, string? UsedBy);

/// <summary>
/// The fleet registry in HQ's database: slots (node, provider, region, role, status, capacity, record sequence),
/// groups and their slots, and the spare pool. Every change commits together with its audit entry.
/// </summary>
public sealed partial class FleetRegistry
{
    private readonly HqDatabase _db;
    private readonly AuditLog _audit;
    private readonly TimeProvider _time;

    /// <summary>Creates the registry.</summary>
    public FleetRegistry(HqDatabase db, AuditLog audit, TimeProvider time)
    {
        _db = db ?? throw new ArgumentNullException(nameof(db));
        _audit = audit ?? throw new ArgumentNullException(nameof(audit));
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>Now, on the registry's clock.</summary>
    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>Adds a slot, or updates its node, provider, region, role and capacity (sequence grows when the node changes).</summary>
    public SlotEntry UpsertSlot(string actor, string slot, string nodeId, string provider, string region, MailboxRole role, int capacity) =>
        _db.InTransaction((c, tx) =>
        {
            var existing = GetSlot(c, tx, slot);
            var sequence = existing is null ? 1 : existing.NodeId == nodeId ? existing.Sequence : existing.Sequence + 1;
            var status = existing is null || existing.NodeId != nodeId ? SlotStatus.Active : existing.Status;
            Exec(c, tx, """
                INSERT INTO slots(slot, node_id, provider, region, role, status, capacity, sequence, updated_at)
                VALUES ($s, $n, $p, $r, $role, $st, $cap, $seq, $t)
                ON CONFLICT(slot) DO UPDATE SET node_id = $n, provider = $p, region = $r, role = $role, status = $st,
                  capacity = $cap, sequence = $seq, updated_at = $t, level = CASE WHEN slots.node_id = $n THEN slots.level ELSE 0 END
                """, ("$s", slot), ("$n", nodeId), ("$p", provider), ("$r", region), ("$role", (int)role), ("$st", (int)status),
                ("$cap", capacity), ("$seq", (long)sequence), ("$t", _time.GetUtcNow().ToUnixTimeMilliseconds()));
            // A slot given a node of its own is no longer split.
            if (existing?.NodeId != nodeId) Exec(c, tx, "DELETE FROM slot_splits WHERE slot = $s", ("$s", slot));
            _audit.Append(c, tx, actor, existing is null ? "slot.add" : existing.NodeId == nodeId ? "slot.update" : "slot.replace",
                JsonSerializer.Serialize(new { slot, nodeId, previousNodeId = existing?.NodeId, provider, region, role = role.ToString(), capacity, sequence }));
            return GetSlot(c, tx, slot)!;
        });

    /// <summary>Sets a slot's status.</summary>
    /// <exception cref="KeyNotFoundException">Unknown slot.</exception>
    public void SetStatus(string actor, string slot, SlotStatus status, string reason) =>
        _db.InTransaction((c, tx) =>
        {
            var existing = GetSlot(c, tx, slot) ?? throw new KeyNotFoundException($"unknown slot '{slot}'");
            if (existing.Status == status) return 0;
            Exec(c, tx, "UPDATE slots SET status = $st, updated_at = $t WHERE slot = $s",
                ("$st", (int)status), ("$t", _time.GetUtcNow().ToUnixTimeMilliseconds()), ("$s", slot));
            _audit.Append(c, tx, actor, "slot.status", JsonSerializer.Serialize(new { slot, from = existing.Status.ToString(), to = status.ToString(), reason }));
            return 1;
        });

    /// <summary>Keeps the escalation level HQ computed (the audit entry for the change is written by the caller).</summary>
    public void SetLevel(string slot, KontinuumP2P.Mailbox.Health.HealthLevel level) =>
        _db.InTransaction((c, tx) =>
        {
            Exec(c, tx, "UPDATE slots SET level = $l WHERE slot = $s", ("$l", (int)level), ("$s", slot));
            return 0;
        });

    /// <summary>One slot, or null.</summary>
    public SlotEntry? GetSlot(string slot) => _db.Read(c => GetSlot(c, null, slot));

    /// <summary>Every slot, by name.</summary>
    public IReadOnlyList<SlotEntry> Slots() => _db.Read(c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = SlotQuery + " ORDER BY s.slot";
        return (IReadOnlyList<SlotEntry>)ReadSlots(cmd);
    });

    /// <summary>Records a new group on its allocated slots.</summary>
    public void AddGroup(string actor, string groupId, IReadOnlyList<string> slots) =>
        _db.InTransaction((c, tx) =>
        {
            Exec(c, tx, "INSERT INTO groups(group_id, created_at) VALUES ($g, $t)", ("$g", groupId), ("$t", _time.GetUtcNow().ToUnixTimeMilliseconds()));
            foreach (var s in slots) Exec(c, tx, "INSERT INTO group_slots(group_id, slot) VALUES ($g, $s)", ("$g", groupId), ("$s", s));
            _audit.Append(c, tx, actor, "group.allocate", JsonSerializer.Serialize(new { groupId, slots }));
            return 0;
        });

    /// <summary>Moves a group from one slot to another.</summary>
    public void MoveGroup(string actor, GroupMove move) =>
        _db.InTransaction((c, tx) =>
        {
            Exec(c, tx, "UPDATE group_slots SET slot = $to WHERE group_id = $g AND slot = $from", ("$to", move.To), ("$g", move.GroupId), ("$from", move.From));
            _audit.Append(c, tx, actor, "group.move", JsonSerializer.Serialize(move));
            return 0;
        });

    /// <summary>Every group and its slots.</summary>
    public IReadOnlyList<GroupSlots> Groups() => _db.Read(c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT group_id, slot FROM group_slots ORDER BY group_id, slot";
        var map = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            if (!map.TryGetValue(r.GetString(0), out var l)) map[r.GetString(0)] = l = [];
            l.Add(r.GetString(1));
        }
        return (IReadOnlyList<GroupSlots>)[.. map.Select(kv => new GroupSlots(kv.Key, kv.Value))];
    });

    /// <summary>Adds a pre-certified spare identity to the pool.</summary>
    public void AddSpare(string actor, SpareEntry spare) =>
        _db.InTransaction((c, tx) =>
        {
            Exec(c, tx, "INSERT INTO spares(id, provider, region, directory, used_by) VALUES ($i, $p, $r, $d, NULL)",
                ("$i", spare.Id), ("$p", spare.Provider), ("$r", spare.Region), ("$d", spare.Directory));
            _audit.Append(c, tx, actor, "spare.add", JsonSerializer.Serialize(new { spare.Id, spare.Provider, spare.Region }));
            return 0;
        });

    /// <summary>Whether the pool holds spare <paramref name="id"/> (used or not).</summary>
    public bool HasSpare(string id) => _db.Read(c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT 1 FROM spares WHERE id = $i";
        cmd.Parameters.AddWithValue("$i", id);
        return cmd.ExecuteScalar() is not null;
    });

    /// <summary>Unused spares.</summary>
    public IReadOnlyList<SpareEntry> FreeSpares() => _db.Read(c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id, provider, region, directory, used_by FROM spares WHERE used_by IS NULL ORDER BY id";
        var list = new List<SpareEntry>();
        using var r = cmd.ExecuteReader();
        while (r.Read()) list.Add(new SpareEntry(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), null));
        return (IReadOnlyList<SpareEntry>)list;
    });

    /// <summary>Marks a free spare as used by <paramref name="slot"/>; returns its provider and region.</summary>
    /// <exception cref="InvalidOperationException">The spare is unknown or already used.</exception>
    private static (string Provider, string Region) ClaimSpare(SqliteConnection c, SqliteTransaction tx, string spareId, string slot)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "UPDATE spares SET used_by = $s WHERE id = $i AND used_by IS NULL RETURNING provider, region";
        cmd.Parameters.AddWithValue("$s", slot);
        cmd.Parameters.AddWithValue("$i", spareId);
        using var r = cmd.ExecuteReader();
        if (!r.Read()) throw new InvalidOperationException($"spare '{spareId}' is unknown or already used");
        return (r.GetString(0), r.GetString(1));
    }

    /// <summary>Marks a spare as used by a slot and points the slot at it, in one transaction.</summary>
    /// <exception cref="InvalidOperationException">The spare is unknown or already used.</exception>
    public SlotEntry UseSpare(string actor, string spareId, string slot) =>
        _db.InTransaction((c, tx) =>
        {
            var (provider, region) = ClaimSpare(c, tx, spareId, slot);
            var existing = GetSlot(c, tx, slot) ?? throw new KeyNotFoundException($"unknown slot '{slot}'");
            Exec(c, tx, "UPDATE slots SET node_id = $n, provider = $p, region = $r, status = $st, sequence = sequence + 1, level = 0, updated_at = $t WHERE slot = $s",
                ("$n", spareId), ("$p", provider), ("$r", region), ("$st", (int)SlotStatus.Active), ("$t", _time.GetUtcNow().ToUnixTimeMilliseconds()), ("$s", slot));
            _audit.Append(c, tx, actor, "slot.replace", JsonSerializer.Serialize(new
            {
                slot, previousNodeId = existing.NodeId, previousProvider = existing.Provider, nodeId = spareId, provider, region, sequence = existing.Sequence + 1,
            }));
            return GetSlot(c, tx, slot)!;
        });

    private const string SlotQuery = """
        SELECT s.slot, s.node_id, s.provider, s.region, s.role, s.status, s.capacity, s.sequence,
               (SELECT COUNT(*) FROM group_slots g WHERE g.slot = s.slot)
                 + (SELECT COALESCE(SUM(p.groups), 0) FROM slot_splits p WHERE p.host_slot = s.slot), s.level
        FROM slots s
        """;

    private static SlotEntry? GetSlot(SqliteConnection c, SqliteTransaction? tx, string slot)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = SlotQuery + " WHERE s.slot = $s";
        cmd.Parameters.AddWithValue("$s", slot);
        return ReadSlots(cmd).SingleOrDefault();
    }

    private static List<SlotEntry> ReadSlots(SqliteCommand cmd)
    {
        var list = new List<SlotEntry>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            list.Add(new SlotEntry(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), (MailboxRole)r.GetInt32(4),
                (SlotStatus)r.GetInt32(5), r.GetInt32(6), (ulong)r.GetInt64(7), r.GetInt32(8), (KontinuumP2P.Mailbox.Health.HealthLevel)r.GetInt32(9)));
        }
        return list;
    }

    private static void Exec(SqliteConnection c, SqliteTransaction tx, string sql, params (string Name, object Value)[] args)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v);
        cmd.ExecuteNonQuery();
    }
}
