using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Simulations.Scenarios;
using KontinuumP2P.Simulations.Time;

namespace KontinuumP2P.Simulations.Fleet;

/// <summary>One row of <c>fleet.csv</c>.</summary>
/// <param name="Variant">The run.</param>
/// <param name="Second">Seconds since the failure started (negative before).</param>
/// <param name="LiveMailboxes">Mailbox nodes serving.</param>
/// <param name="GroupsWhole">Groups whose 3 slots are held by live nodes on 3 distinct providers, as every device of the group resolves them.</param>
/// <param name="GroupsBelow3">Groups with fewer than 3 live mailboxes (HQ's registry view).</param>
/// <param name="MinLive">Fewest live mailboxes of any group now.</param>
/// <param name="Yellow">Slots YELLOW at HQ.</param>
/// <param name="Orange">Slots ORANGE at HQ.</param>
/// <param name="Red">Slots RED at HQ.</param>
/// <param name="Black">Slots BLACK at HQ.</param>
public sealed record FleetSample(string Variant, double Second, int LiveMailboxes, int GroupsWhole, int GroupsBelow3, int MinLive, int Yellow, int Orange, int Red,
    int Black);

/// <summary>Collects the figures of a fleet run from the transitions the real state machines return.</summary>
internal sealed class FleetMetrics(FleetWorld world, VirtualTimeProvider time, TimeSpan failureAt, IReadOnlyDictionary<(int Device, int Group, int Slot), int> view)
{
    private static readonly HealthLevel[] Levels = [HealthLevel.Yellow, HealthLevel.Orange, HealthLevel.Red];
    private readonly Dictionary<string, TimeSpan?[]> _mailboxFirst = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TimeSpan?[]> _hqFirst = new(StringComparer.Ordinal);
    private readonly List<(HealthTarget Target, TimeSpan At)> _floodTargets = [];
    private readonly List<FleetSample> _samples = [];
    private TimeSpan? _black;
    private TimeSpan? _allBack;
    private bool _someDown;
    private int _minLive = int.MaxValue;
    private int _groupsAtMin;
    private int _falseEscalations;
    private int _falseYellowMailbox;
    private int _falseYellowHq;
    private int _falseReplacements;
    private int _replacements;
    private int _splits;
    private int _lastGroupsNotWhole;
    private int _floodYellow;

    public long ReportsSent { get; set; }
    public long ReportsIgnored { get; set; }
    public long Checks { get; set; }
    public long AlertsSent { get; set; }

    public void NoteKilled(MailboxNode node)
    {
        _mailboxFirst[node.PeerId.ToString()] = new TimeSpan?[4];
        _hqFirst[node.PeerId.ToString()] = new TimeSpan?[5];
    }

    public void NoteFloodTarget(HealthTarget target) => _floodTargets.Add((target, time.Elapsed));

    public void NoteMailboxTransition(HealthTransition t)
    {
        var id = t.Target.NodeId.ToString();
        if (_mailboxFirst.TryGetValue(id, out var first))
        {
            foreach (var level in Levels) if (t.To >= level) first[(int)level] ??= time.Elapsed - failureAt;
        }
        if (!world.NodeById[id].Alive) return;
        if (t.To >= HealthLevel.Orange) _falseEscalations++;
        else if (t.To == HealthLevel.Yellow)
        {
            _falseYellowMailbox++;
            if (_floodTargets.Any(f => f.Target == t.Target)) _floodYellow++;
        }
    }

    public void NoteHqTransition(FleetTransition t)
    {
        var id = t.NodeId.ToString();
        if (_hqFirst.TryGetValue(id, out var first))
        {
            foreach (var level in (HealthLevel[])[.. Levels, HealthLevel.Black]) if (t.To >= level) first[(int)level] ??= time.Elapsed - failureAt;
        }
        if (!world.NodeById[id].Alive) return;
        if (t.To >= HealthLevel.Orange) _falseEscalations++;
        else if (t.To == HealthLevel.Yellow) _falseYellowHq++;
    }

    public void NoteIncident(ProviderIncident incident) => _black ??= time.Elapsed - failureAt;

    public void NoteReplacement(int previousNode)
    {
        _replacements++;
        if (world.Nodes[previousNode].Alive) _falseReplacements++;
    }

    public void NoteSplit(int previousNode)
    {
        _splits++;
        if (world.Nodes[previousNode].Alive) _falseReplacements++;
    }

    private bool Live(SimGroup g, int slot) => world.HolderFor(g, slot) is var n && n >= 0 && world.Nodes[n].Alive;

    /// <summary>Samples the groups and HQ's levels.</summary>
    public void Sample()
    {
        var since = time.Elapsed - failureAt;
        var whole = 0;
        var below = 0;
        var minLive = int.MaxValue;
        foreach (var g in world.Groups)
        {
            var live = g.Slots.Count(s => Live(g, s));
            minLive = Math.Min(minLive, live);
            if (live < 3) below++;
            if (IsWhole(g)) whole++;
        }
        var levels = world.Hq.Registry.Slots().GroupBy(s => s.Level).ToDictionary(g => g.Key, g => g.Count());
        _samples.Add(new FleetSample("", since.TotalSeconds, world.Nodes.Count(n => n.Alive), whole, below, minLive,
            levels.GetValueOrDefault(HealthLevel.Yellow), levels.GetValueOrDefault(HealthLevel.Orange), levels.GetValueOrDefault(HealthLevel.Red),
            levels.GetValueOrDefault(HealthLevel.Black)));
        if (since < TimeSpan.Zero) return;
        if (minLive < _minLive)
        {
            _minLive = minLive;
            _groupsAtMin = 0;
        }
        if (minLive == _minLive) _groupsAtMin = Math.Max(_groupsAtMin, world.Groups.Count(g => g.Slots.Count(s => Live(g, s)) == minLive));
        _lastGroupsNotWhole = world.Groups.Count - whole;
        if (whole < world.Groups.Count)
        {
            _someDown = true;
            _allBack = null;
        }
        else if (_someDown) _allBack ??= since;
    }

    // HQ's registry names a live node for each slot (of a split slot, the one this group picks), the 3 nodes are on 3
    // distinct providers, and every device of the group resolves each slot to that node.
    private bool IsWhole(SimGroup g)
    {
        var providers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in g.Slots)
        {
            var index = world.HolderFor(g, s);
            if (index < 0) return false;
            var holder = world.Nodes[index];
            if (!holder.Alive || !providers.Add(holder.Provider)) return false;
            foreach (var d in g.Devices)
            {
                if (view[(d, g.Index, s)] != holder.Index) return false;
            }
        }
        return true;
    }

    public RunResult Result(string variant, long messages)
    {

        var result = new RunResult(variant);
        void Add(string name, double value) => result.Metrics.Add(new(name, value));
        static double Seconds(TimeSpan? t) => t?.TotalSeconds ?? double.NaN;
        Add("mailboxes", world.Options.Mailboxes);
        Add("devices", world.DeviceCount);
        Add("groups", world.Groups.Count);
        Add("failed_mailboxes", _hqFirst.Count);
        string[] names = ["", "yellow", "orange", "red", "black"];
        foreach (var level in Levels)
        {
            var first = _mailboxFirst.Values.Select(v => v[(int)level]).ToList();
            Add($"mailbox_{names[(int)level]}_s_max", first.Count == 0 || first.Any(x => x is null) ? double.NaN : first.Max(x => x!.Value.TotalSeconds));
        }
        foreach (var level in (HealthLevel[])[.. Levels, HealthLevel.Black])
        {
            var first = _hqFirst.Values.Select(v => v[(int)level]).ToList();
            Add($"hq_{names[(int)level]}_s_first", first.Any(x => x is not null) ? first.Where(x => x is not null).Min(x => x!.Value.TotalSeconds) : double.NaN);
            Add($"hq_{names[(int)level]}_s_max", first.Count == 0 || first.Any(x => x is null) ? double.NaN : first.Max(x => x!.Value.TotalSeconds));
        }
        Add("black_incident_s", Seconds(_black));
        Add("replacements", _replacements);
        Add("split_slots", _splits);
        Add("all_groups_back_on_3_s", Seconds(_allBack));
        Add("groups_not_back_at_end", _lastGroupsNotWhole);
        Add("min_live_mailboxes", _minLive == int.MaxValue ? double.NaN : _minLive);
        Add("groups_at_min_live", _groupsAtMin);
        Add("false_escalations", _falseEscalations + _falseReplacements);
        Add("false_replacements", _falseReplacements);
        Add("watch_yellow_healthy_mailbox", _falseYellowMailbox);
        Add("watch_yellow_healthy_hq", _falseYellowHq);
        Add("flood_target_yellow", _floodYellow);
        Add("reports_sent", ReportsSent);
        Add("reports_ignored_unregistered", ReportsIgnored);
        Add("checks", Checks);
        Add("alerts_sent", AlertsSent);
        Add("messages", messages);
        foreach (var s in _samples) result.FleetTimeline.Add(s with { Variant = variant });
        return result;
    }
}
