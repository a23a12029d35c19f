using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Hq.Escalation;

/// <summary>
/// HQ's escalation state machine (layer 3, sans-I/O): folds signed alerts from mailboxes into a level per slot.
/// YELLOW/ORANGE follow the highest live alert; RED needs <see cref="EscalationOptions.RedConfirmations"/> distinct
/// mailboxes reporting RED; BLACK is a provider incident declared when enough slots of one provider went RED within
/// <see cref="EscalationOptions.BlackWindow"/>, after which every slot of that provider is BLACK until the incident is
/// cleared or the slot is given a node elsewhere. Alerts expire unless refreshed. Not thread-safe: the owner locks.
/// </summary>
public sealed class FleetEscalation
{
    private readonly EscalationOptions _options;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, SlotState> _slots = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(string Slot, DateTimeOffset At)>> _redByProvider = new(StringComparer.Ordinal);
    private readonly HashSet<string> _incidents = new(StringComparer.Ordinal);

    /// <summary>Creates the machine.</summary>
    public FleetEscalation(EscalationOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>Providers with an open incident.</summary>
    public IReadOnlyCollection<string> ProviderIncidents => _incidents;

    /// <summary>
    /// Declares (or updates) which node holds a slot and on which provider. A new node starts GREEN with no alerts.
    /// </summary>
    /// <exception cref="InvalidOperationException">The slot limit is reached.</exception>
    public EscalationResult SetSlot(string slot, PeerId nodeId, string provider)
    {
        ArgumentException.ThrowIfNullOrEmpty(slot);
        ArgumentNullException.ThrowIfNull(nodeId);
        ArgumentNullException.ThrowIfNull(provider);
        if (_slots.TryGetValue(slot, out var existing))
        {
            if (existing.NodeId.Equals(nodeId) && existing.Provider == provider) return EscalationResult.None;
            var before = existing.Level;
            existing.NodeId = nodeId;
            existing.Provider = provider;
            existing.Reporters.Clear();
            return Result(Recompute(existing, _time.GetUtcNow()), null, before);
        }
        if (_slots.Count >= _options.MaxSlots) throw new InvalidOperationException($"HQ tracks at most {_options.MaxSlots} slots");
        _slots[slot] = new SlotState(slot, nodeId, provider);
        return EscalationResult.None;
    }

    /// <summary>Forgets a slot (decommissioned).</summary>
    public bool RemoveSlot(string slot) => _slots.Remove(slot);

    /// <summary>
    /// Applies one mailbox's alert about a target. Alerts about unknown slots, or about a node that no longer holds
    /// the slot, are ignored (they describe the past). A GREEN alert withdraws the mailbox's earlier alert.
    /// </summary>
    public EscalationResult OnAlert(PeerId reporter, HealthTarget target, HealthLevel level)
    {
        ArgumentNullException.ThrowIfNull(reporter);
        if (level is HealthLevel.Black) return EscalationResult.None; // only HQ declares BLACK
        if (!_slots.TryGetValue(target.Slot, out var state) || !state.NodeId.Equals(target.NodeId)) return EscalationResult.None;
        if (reporter.Equals(target.NodeId)) return EscalationResult.None; // a mailbox cannot vouch about itself
        var now = _time.GetUtcNow();
        var before = state.Level;
        var key = reporter.ToString();
        if (level == HealthLevel.Green)
        {
            state.Reporters.Remove(key);
        }
        else
        {
            if (!state.Reporters.ContainsKey(key) && state.Reporters.Count >= _options.MaxReportersPerSlot)
                state.Reporters.Remove(state.Reporters.MinBy(r => r.Value.At).Key);
            state.Reporters[key] = (level, now);
        }
        return Evaluate(state, before, now);
    }

    /// <summary>Expires alerts not refreshed within <see cref="EscalationOptions.AlertTtl"/>; call periodically.</summary>
    public EscalationResult Tick()
    {
        var now = _time.GetUtcNow();
        var transitions = new List<FleetTransition>();
        foreach (var state in _slots.Values)
        {
            var stale = state.Reporters.Where(r => now - r.Value.At >= _options.AlertTtl).Select(r => r.Key).ToList();
            if (stale.Count == 0) continue;
            var before = state.Level;
            foreach (var k in stale) state.Reporters.Remove(k);
            var t = Recompute(state, now);
            if (t.Level != before) transitions.Add(Transition(state, before, now));
        }
        return transitions.Count == 0 ? EscalationResult.None : new EscalationResult(transitions, null);
    }

    /// <summary>Closes a provider incident (operator decision, audited by the caller); its slots fall back to their alerts.</summary>
    public EscalationResult ClearProviderIncident(string provider)
    {
        if (!_incidents.Remove(provider)) return EscalationResult.None;
        _redByProvider.Remove(provider);
        var now = _time.GetUtcNow();
        var transitions = new List<FleetTransition>();
        foreach (var state in _slots.Values.Where(s => s.Provider == provider))
        {
            var before = state.Level;
            if (Recompute(state, now).Level != before) transitions.Add(Transition(state, before, now));
        }
        return new EscalationResult(transitions, null);
    }

    /// <summary>The state of one slot, or null when unknown.</summary>
    public SlotHealth? Get(string slot) => _slots.TryGetValue(slot, out var s) ? s.ToHealth() : null;

    /// <summary>Every slot.</summary>
    public IReadOnlyList<SlotHealth> Snapshot() => [.. _slots.Values.Select(s => s.ToHealth())];

    private EscalationResult Evaluate(SlotState state, HealthLevel before, DateTimeOffset now)
    {
        Recompute(state, now);
        if (state.Level == before) return EscalationResult.None;
        // The slot's own transition stays first (NoteRed rewrites it in place when a provider incident follows).
        var transitions = new List<FleetTransition> { Transition(state, before, now) };
        ProviderIncident? incident = null;
        if (state.Level == HealthLevel.Red) incident = NoteRed(state, now, transitions);
        return new EscalationResult(transitions, incident);
    }

    private ProviderIncident? NoteRed(SlotState state, DateTimeOffset now, List<FleetTransition> transitions)
    {
        if (!_redByProvider.TryGetValue(state.Provider, out var reds)) _redByProvider[state.Provider] = reds = [];
        reds.RemoveAll(r => now - r.At >= _options.BlackWindow || r.Slot == state.Slot);
        reds.Add((state.Slot, now));
        if (reds.Count < _options.BlackRedSlots || !_incidents.Add(state.Provider)) return null;
        var slots = new List<string>();
        foreach (var s in _slots.Values.Where(s => s.Provider == state.Provider))
        {
            slots.Add(s.Slot);
            var before = s.Level;
            Recompute(s, now);
            if (s.Level == before) continue;
            if (s == state) transitions[0] = Transition(s, transitions[0].From, now);
            else transitions.Add(Transition(s, before, now));
        }
        slots.Sort(StringComparer.Ordinal);
        return new ProviderIncident(state.Provider, now, slots);
    }

    private SlotState Recompute(SlotState state, DateTimeOffset now)
    {
        if (_incidents.Contains(state.Provider))
        {
            state.Level = HealthLevel.Black;
            return state;
        }
        var reds = state.Reporters.Values.Count(r => r.Level == HealthLevel.Red);
        var highest = state.Reporters.Count == 0 ? HealthLevel.Green : state.Reporters.Values.Max(r => r.Level);
        state.Level = reds >= _options.RedConfirmations ? HealthLevel.Red
            : highest >= HealthLevel.Orange ? HealthLevel.Orange
            : highest;
        return state;
    }

    private EscalationResult Result(SlotState state, ProviderIncident? incident, HealthLevel before) =>
        state.Level == before ? EscalationResult.None : new EscalationResult([Transition(state, before, _time.GetUtcNow())], incident);

    private static FleetTransition Transition(SlotState s, HealthLevel from, DateTimeOffset at) =>
        new(s.Slot, s.NodeId, s.Provider, from, s.Level, at, s.RedCount);

    private sealed class SlotState(string slot, PeerId nodeId, string provider)
    {
        public string Slot { get; } = slot;
        public PeerId NodeId { get; set; } = nodeId;
        public string Provider { get; set; } = provider;
        public HealthLevel Level { get; set; }
        public Dictionary<string, (HealthLevel Level, DateTimeOffset At)> Reporters { get; } = new(StringComparer.Ordinal);
        public int RedCount => Reporters.Values.Count(r => r.Level == HealthLevel.Red);
        public SlotHealth ToHealth() => new(Slot, NodeId, Provider, Level, Reporters.Count, RedCount);
    }
}
