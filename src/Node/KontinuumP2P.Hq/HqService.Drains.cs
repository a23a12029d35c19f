using System.Text.Json;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Registry;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Hq;

/// <summary>One open drain as <c>hq status</c> shows it.</summary>
/// <param name="Slot">The slot.</param>
/// <param name="OldNode">The drained node.</param>
/// <param name="NewNode">The node the slot names now.</param>
/// <param name="Ready">Whether <c>hq decommission</c> would go ahead.</param>
/// <param name="WaitingFor">What it waits for (or why it is ready).</param>
public sealed record DrainStatusRow(string Slot, string OldNode, string NewNode, bool Ready, string WaitingFor);

/// <summary>A decommission refused: the drain is not ready (the reason says what it waits for).</summary>
public sealed class DrainNotReadyException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public DrainNotReadyException(string message) : base(message)
    {
    }
}

public sealed partial class HqService
{
    /// <summary>Default <see cref="DrainSettle"/>: clients re-resolve a slot at least every 60 s.</summary>
    public static readonly TimeSpan DefaultDrainSettle = TimeSpan.FromMinutes(2);

    // Last stored drain report per draining node: at most one write a second each (a flood costs no more).
    private readonly Dictionary<string, DateTimeOffset> _drainReportWrites = new(StringComparer.Ordinal);
    private const int MaxDrainReportWriters = 1024;

    /// <summary>
    /// How long after a drain a report from the old node is taken as final (every client has re-resolved the slot by
    /// then, so no new mailbox appears on the old node).
    /// </summary>
    public TimeSpan DrainSettle { get; set; } = DefaultDrainSettle;

    /// <summary>Drain reports accepted and stored.</summary>
    public long DrainReportsStored { get; private set; }

    /// <summary>Drain reports from nodes without an open drain (ignored, nothing stored) or throttled.</summary>
    public long DrainReportsIgnored { get; private set; }

    /// <summary>
    /// Drains <paramref name="slot"/>'s node: the slot is re-pointed to a free spare on the same provider (so every
    /// group on it stays provider-diverse) with a new record (sequence + 1); clients follow it as they follow a
    /// replacement and re-seed the new node, then close their mailboxes on the old one. HQ's node starts the spare and
    /// publishes the record on its next tick. The old node is decommissioned by <see cref="Decommission"/>.
    /// </summary>
    /// <param name="actor">Who asked (audited).</param>
    /// <param name="slot">The slot.</param>
    /// <param name="ttl">Longest blob TTL (an ephemeral slot's old node may go this long after the re-pointing).</param>
    /// <exception cref="AllocationException">No free spare on the slot's provider.</exception>
    /// <exception cref="InvalidOperationException">The slot does not serve, or its node is drained already.</exception>
    public DrainEntry DrainSlot(string actor, string slot, TimeSpan ttl)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ttl, TimeSpan.Zero);
        var entry = Registry.GetSlot(slot) ?? throw new KeyNotFoundException($"unknown slot '{slot}'");
        var spare = Registry.FreeSpares().Where(s => s.Provider == entry.Provider)
            .OrderBy(s => s.Region == entry.Region ? 0 : 1).ThenBy(s => s.Id, StringComparer.Ordinal).FirstOrDefault()
            ?? throw new AllocationException($"no free spare on provider '{entry.Provider}' to take over slot '{slot}': add one to the pool first");
        var drain = Registry.StartDrain(actor, slot, spare.Id, ttl);
        lock (_lock) _escalation.SetSlot(slot, PeerId.Parse(drain.NewNode), entry.Provider);
        return drain;
    }

    /// <summary>Open drains whose spare HQ's node has not started yet, with the slot records to publish (the escalation follows the new node).</summary>
    public IReadOnlyList<(DrainEntry Drain, SlotRecord Record)> UndeliveredDrains()
    {
        var list = new List<(DrainEntry, SlotRecord)>();
        foreach (var d in Registry.OpenDrains().Where(d => !d.Delivered))
        {
            var entry = Registry.GetSlot(d.Slot);
            if (entry is null || entry.NodeId != d.NewNode)
            {
                Registry.DrainDelivered(d.Slot, d.OldNode); // replaced since: the replacement's record went out
                continue;
            }
            lock (_lock) _escalation.SetSlot(d.Slot, PeerId.Parse(d.NewNode), entry.Provider);
            list.Add((d, RecordOf(entry)));
        }
        return list;
    }

    /// <summary>
    /// A drained node's signed count of its open mailboxes (verified by the caller). Stored only when that node has an
    /// open drain, at most once a second per node; anything else is counted and dropped.
    /// </summary>
    public bool OnDrainReport(PeerId reporter, int openMailboxes, int mailboxesWithBlobs)
    {
        ArgumentNullException.ThrowIfNull(reporter);
        var now = _time.GetUtcNow();
        var key = reporter.ToString();
        lock (_lock)
        {
            if (_drainReportWrites.TryGetValue(key, out var last) && now - last < TimeSpan.FromSeconds(1))
            {
                DrainReportsIgnored++;
                return false;
            }
        }
        var stored = Registry.RecordDrainReport(key, new DrainNodeReport(Math.Max(0, openMailboxes), Math.Max(0, mailboxesWithBlobs), now));
        lock (_lock)
        {
            if (!stored)
            {
                DrainReportsIgnored++;
                return false;
            }
            if (_drainReportWrites.Count >= MaxDrainReportWriters) _drainReportWrites.Clear();
            _drainReportWrites[key] = now;
            DrainReportsStored++;
        }
        return true;
    }

    /// <summary>The decommission gate of <paramref name="slot"/>'s open drain, or null when it has none.</summary>
    public DrainProgress? DrainProgressOf(string slot) =>
        Registry.OpenDrains().LastOrDefault(d => d.Slot == slot)?.Progress(DrainSettle);

    /// <summary>
    /// Decommissions the old node of <paramref name="slot"/>'s open drain once <see cref="DrainProgress.CanDecommission"/>
    /// says so, or at once with <paramref name="force"/> (audited with what it still waited for). HQ's node stops the
    /// old node's process on its next tick when HQ started it from the spare pool.
    /// </summary>
    /// <exception cref="DrainNotReadyException">Not ready and not forced: the message says what it waits for.</exception>
    /// <exception cref="InvalidOperationException">The slot has no open drain.</exception>
    public DrainEntry Decommission(string actor, string slot, bool force)
    {
        var drain = Registry.OpenDrains().LastOrDefault(d => d.Slot == slot)
            ?? throw new InvalidOperationException($"slot '{slot}' has no open drain (run `hq drain {slot}` first)");
        var (ready, reason) = drain.Progress(DrainSettle).CanDecommission(_time.GetUtcNow());
        if (!ready && !force) throw new DrainNotReadyException($"{drain.OldNode} of slot '{slot}' is not drained: {reason}");
        Registry.FinishDrain(actor, drain, ready ? "decommissioned" : "forced", reason);
        if (!ready) Audit.Append(actor, "slot.decommission-forced", JsonSerializer.Serialize(new { slot, nodeId = drain.OldNode, waitingFor = reason }));
        return drain;
    }

    /// <summary>Open drains with what each waits for.</summary>
    public static IReadOnlyList<DrainStatusRow> DrainStatusOf(FleetRegistry registry, DateTimeOffset now, TimeSpan settle)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return [.. registry.OpenDrains().Select(d =>
        {
            var (ready, reason) = d.Progress(settle).CanDecommission(now);
            return new DrainStatusRow(d.Slot, d.OldNode, d.NewNode, ready, d.Delivered ? reason : "HQ's node has not started the spare and published the record yet");
        })];
    }
}
