using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Hq;
using KontinuumP2P.Mailbox.Client;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// What <c>devnet --chaos</c> saw since the kill, folded from HQ's events, the devices' health loops and each round's
/// status: times are seconds after the kill.
/// </summary>
internal sealed class ChaosProgress(string slot, PeerId victim, string spare)
{
    private readonly Dictionary<string, double> _levelAt = new(StringComparer.Ordinal);
    private long _reports;
    private long _reseeded;
    private DateTimeOffset? _killedAt;

    public string Slot { get; } = slot;

    public PeerId Victim { get; } = victim;

    public string Spare { get; } = spare;

    public bool Killed => _killedAt is not null;

    public string? Level { get; private set; }

    public string? Replacement { get; private set; }

    public double? ReplacedAfter { get; private set; }

    public string? SlotNode { get; private set; }

    public ulong? SlotSequence { get; private set; }

    public double? SlotMovedAfter { get; private set; }

    public int MailboxesReachable { get; private set; } = 3;

    public bool DevicesFollowSlot { get; private set; }

    public long ReplacementBlobs { get; private set; }

    public long SurvivorBlobs { get; private set; }

    /// <summary>Blob ids the demo devices pushed so far (checked on the replacement).</summary>
    public int PushedIds { get; private set; }

    /// <summary>Of those, the ids the replacement lacks (null until checked).</summary>
    public int? MissingOnReplacement { get; private set; }

    /// <summary>Records the id-by-id check of the replacement: every blob any device pushed must be on it.</summary>
    public void ObserveIds(int pushed, int missing)
    {
        PushedIds = pushed;
        MissingOnReplacement = missing;
    }

    public int Pending { get; private set; }

    public int Outbox { get; private set; }

    public double? BackOn3After { get; private set; }

    public bool Recovered => BackOn3After is not null;

    public void AddReports(int reports) => Interlocked.Add(ref _reports, reports);

    public void AddReseeded(long blobs) => Interlocked.Add(ref _reseeded, blobs);

    /// <summary>Blobs the demo devices had pushed when the mailbox was stopped.</summary>
    public int PushedBeforeKill { get; private set; }

    public void MarkKilled(int pushedBeforeKill)
    {
        PushedBeforeKill = pushedBeforeKill;
        _killedAt = DateTimeOffset.UtcNow;
    }

    public void Observe(ConcurrentQueue<HqNodeEvent> events, DevnetStatus status, IReadOnlyList<IReadOnlyList<MailboxStatus>> probes)
    {
        var now = DateTimeOffset.UtcNow;
        if (_killedAt is not { } killed) return;
        SlotNode ??= Victim.ToString();
        foreach (var e in events.Where(e => e.Slot == Slot && e.At >= killed))
        {
            var after = (e.At - killed).TotalSeconds;
            switch (e.Kind)
            {
                case "level":
                    Level = e.Detail;
                    _levelAt.TryAdd(e.Detail, after);
                    break;
                case "replaced":
                    Replacement = e.NodeId;
                    ReplacedAfter ??= after;
                    break;
                case "published" when e.NodeId == Spare:
                    SlotNode = e.NodeId;
                    SlotSequence = ulong.Parse(e.Detail.Split('/')[0], CultureInfo.InvariantCulture);
                    SlotMovedAfter ??= after;
                    break;
            }
        }
        // Counts for the table; "every blob" is checked by id (ObserveIds): the re-seed reads the union of the replica
        // mbx-a, which trimmed what both devices acknowledged, and the ephemeral mbx-c, which keeps every blob until its TTL.
        ReplacementBlobs = status.Mailboxes.FirstOrDefault(m => m.Provider == DevnetChaosHq.SpareProvider)?.Blobs ?? 0;
        SurvivorBlobs = status.Mailboxes.FirstOrDefault(m => m.Provider == "devnet-c")?.Blobs ?? 0;
        Pending = status.Group?.Pending ?? 0;
        Outbox = status.Group?.Outbox ?? 0;
        MailboxesReachable = probes.Count == 0 ? 0 : probes.Min(p => p.Count(m => m.Reachable));
        DevicesFollowSlot = probes.Count > 0 && probes.All(p => p.Any(m => m.Slot == Slot && m.PeerId?.ToString() == Spare && m.Reachable));
        if (BackOn3After is null && SlotMovedAfter is not null && DevicesFollowSlot && MailboxesReachable == 3 && Pending == 0 && Outbox == 0
            && Interlocked.Read(ref _reseeded) > 0 && MissingOnReplacement == 0)
            BackOn3After = (now - killed).TotalSeconds;
    }

    private string At(string level) => _levelAt.TryGetValue(level, out var s) ? s.ToString("0.0", CultureInfo.InvariantCulture) + "s" : "-";

    public string Render()
    {
        if (!Killed) return $"  chaos: {Slot} still up; {Interlocked.Read(ref _reports)} reports so far";
        return string.Join('\n',
            $"  chaos: {Slot} killed; {Interlocked.Read(ref _reports)} device reports; level at HQ {Level ?? "(none yet)"} (yellow {At("yellow")}, orange {At("orange")}, red {At("red")} after the kill)",
            $"         replacement {Replacement ?? "(not yet)"}{(ReplacedAfter is { } r ? $" at {r:0.0}s" : "")}; slot record -> {SlotNode} seq {SlotSequence?.ToString(CultureInfo.InvariantCulture) ?? "-"}{(SlotMovedAfter is { } m ? $" at {m:0.0}s" : "")}",
            $"         demo group: {MailboxesReachable}/3 mailboxes reachable, devices on the replacement {(DevicesFollowSlot ? "yes" : "no")}, re-seeded {Interlocked.Read(ref _reseeded)} blobs, " +
            $"replacement holds {ReplacementBlobs} blobs (mbx-c {SurvivorBlobs}); of the {PushedIds} blob ids pushed it lacks {MissingOnReplacement?.ToString(CultureInfo.InvariantCulture) ?? "-"}, " +
            $"{Pending} pending (lost if not 0 at the end), {Outbox} in outboxes" +
            (BackOn3After is { } b ? $"; BACK ON 3 at {b:0.0}s" : ""));
    }

    public JsonObject ToJson() => new()
    {
        ["thresholds"] = DevnetChaosHq.Thresholds,
        ["slot"] = Slot,
        ["victim"] = Victim.ToString(),
        ["spare"] = Spare,
        ["killed"] = Killed,
        ["reports"] = Interlocked.Read(ref _reports),
        ["level"] = Level,
        ["yellowAfter"] = _levelAt.TryGetValue("yellow", out var y) ? y : null,
        ["orangeAfter"] = _levelAt.TryGetValue("orange", out var o) ? o : null,
        ["redAfter"] = _levelAt.TryGetValue("red", out var red) ? red : null,
        ["replacement"] = Replacement,
        ["replacedAfter"] = ReplacedAfter,
        ["slotNode"] = SlotNode,
        ["slotSequence"] = SlotSequence,
        ["slotMovedAfter"] = SlotMovedAfter,
        ["mailboxesReachable"] = MailboxesReachable,
        ["devicesFollowSlot"] = DevicesFollowSlot,
        ["reseededBlobs"] = Interlocked.Read(ref _reseeded),
        ["replacementBlobs"] = ReplacementBlobs,
        ["survivorBlobs"] = SurvivorBlobs,
        ["pushedBeforeKill"] = PushedBeforeKill,
        ["pushedIds"] = PushedIds,
        ["missingOnReplacement"] = MissingOnReplacement,
        ["pending"] = Pending,
        ["outbox"] = Outbox,
        ["backOn3"] = Recovered,
        ["backOn3After"] = BackOn3After,
    };
}
