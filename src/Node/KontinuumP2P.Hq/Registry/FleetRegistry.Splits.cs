using System.Text.Json;
using KontinuumP2P.Hq.Allocation;

namespace KontinuumP2P.Hq.Registry;

/// <summary>One part of a split slot as the registry keeps it: the plan's part and the node its host slot had then.</summary>
/// <param name="Part">Provider, host slot and expected groups.</param>
/// <param name="NodeId">The host's node when the split was made (a changed host node means the split is re-planned).</param>
public sealed record SplitPartEntry(SplitPart Part, string NodeId);

public sealed partial class FleetRegistry
{
    /// <summary>
    /// Makes <paramref name="slot"/> a split slot served by <paramref name="parts"/> (record order), in one transaction
    /// with its audit entry: status <see cref="SlotStatus.Split"/>, node = the first part's node, provider = the parts'
    /// providers joined by '+', sequence + 1. The parts' groups count on their hosts' load.
    /// </summary>
    /// <exception cref="KeyNotFoundException">Unknown slot.</exception>
    /// <exception cref="ArgumentException">No parts.</exception>
    public SlotEntry SplitSlot(string actor, string slot, IReadOnlyList<SplitPartEntry> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0) throw new ArgumentException("a split needs at least one part", nameof(parts));
        return _db.InTransaction((c, tx) =>
        {
            var existing = GetSlot(c, tx, slot) ?? throw new KeyNotFoundException($"unknown slot '{slot}'");
            Exec(c, tx, "DELETE FROM slot_splits WHERE slot = $s", ("$s", slot));
            for (var i = 0; i < parts.Count; i++)
            {
                var p = parts[i];
                Exec(c, tx, "INSERT INTO slot_splits(slot, position, provider, host_slot, node_id, groups) VALUES ($s, $i, $p, $h, $n, $g)",
                    ("$s", slot), ("$i", i), ("$p", p.Part.Provider), ("$h", p.Part.HostSlot), ("$n", p.NodeId), ("$g", p.Part.Groups));
            }
            var providers = string.Join('+', parts.Select(p => p.Part.Provider));
            Exec(c, tx, "UPDATE slots SET node_id = $n, provider = $p, status = $st, sequence = sequence + 1, level = 0, updated_at = $t WHERE slot = $s",
                ("$n", parts[0].NodeId), ("$p", providers), ("$st", (int)SlotStatus.Split), ("$t", _time.GetUtcNow().ToUnixTimeMilliseconds()), ("$s", slot));
            _audit.Append(c, tx, actor, "slot.split", JsonSerializer.Serialize(new
            {
                slot, previousNodeId = existing.NodeId, previousProvider = existing.Provider, sequence = existing.Sequence + 1,
                parts = parts.Select(p => new { p.Part.Provider, p.Part.HostSlot, nodeId = p.NodeId, p.Part.Groups }),
            }));
            return GetSlot(c, tx, slot)!;
        });
    }

    /// <summary>The parts of every split slot, by slot, in record order.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<SplitPartEntry>> Splits() => _db.Read(c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT slot, provider, host_slot, node_id, groups FROM slot_splits ORDER BY slot, position";
        var map = new Dictionary<string, List<SplitPartEntry>>(StringComparer.Ordinal);
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            if (!map.TryGetValue(r.GetString(0), out var list)) map[r.GetString(0)] = list = [];
            list.Add(new SplitPartEntry(new SplitPart(r.GetString(1), r.GetString(2), r.GetInt32(4)), r.GetString(3)));
        }
        return (IReadOnlyDictionary<string, IReadOnlyList<SplitPartEntry>>)map.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<SplitPartEntry>)kv.Value, StringComparer.Ordinal);
    });
}
