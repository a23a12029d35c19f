using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Hq.Escalation;

/// <summary>
/// HQ's escalation state machine (layer 3, sans-I/O): folds signed alerts from mailboxes into a level per slot.
/// A slot's level is the highest level still supported by a fresh alert (younger than
/// <see cref="EscalationOptions.AlertTtl"/>) from a fleet member: YELLOW/ORANGE need one mailbox, RED needs
/// <see cref="EscalationOptions.RedConfirmations"/> distinct mailboxes. A mailbox that later reports a lower level
/// does not lower the slot while its higher alert is fresh; the level falls only when reporters say GREEN or their
/// alerts expire, so alternating reports cannot make it flap. Only nodes that currently hold a slot count as
/// reporters. BLACK is a provider incident declared when enough slots of one provider went RED within
/// <see cref="EscalationOptions.BlackWindow"/>, after which every slot of that provider is BLACK until the incident is
/// cleared or the slot is given a node elsewhere. Alerts expire unless refreshed. Not thread-safe: the owner locks.
/// </summary>
public sealed class FleetEscalation
{
    private readonly EscalationOptions _options;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, SlotAlerts> _slots = new(StringComparer.Ordinal);
    // Fleet members (node id -> slots it holds): only their alerts count.
    private readonly Dictionary<PeerId, int> _members = [];
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
            Leave(existing.NodeId);
            Join(nodeId);
            existing.NodeId = nodeId;
            existing.Provider = provider;
            existing.Clear();
            return Result(Recompute(existing, _time.GetUtcNow()), null, before);
        }
        if (_slots.Count >= _options.MaxSlots) throw new InvalidOperationException($"HQ tracks at most {_options.MaxSlots} slots");
        _slots[slot] = new SlotAlerts(slot, nodeId, provider);
        Join(nodeId);
        return EscalationResult.None;
    }

    /// <summary>Forgets a slot (decommissioned).</summary>
    public bool RemoveSlot(string slot)
    {
        if (!_slots.Remove(slot, out var state)) return false;
        Leave(state.NodeId);
        return true;
    }

    /// <summary>Whether <paramref name="node"/> currently holds a slot (only such nodes' alerts count).</summary>
    internal bool IsMember(PeerId node) => _members.ContainsKey(node);

    /// <summary>
    /// Applies one mailbox's alert about a target. Alerts about unknown slots, about a node that no longer holds
    /// the slot (they describe the past), or from a node that holds no slot are ignored. A GREEN alert withdraws the
    /// mailbox's earlier alerts; a lower level than before keeps the earlier, higher one until it expires.
    /// </summary>
    public EscalationResult OnAlert(PeerId reporter, HealthTarget target, HealthLevel level)
    {
        ArgumentNullException.ThrowIfNull(reporter);
        if (level is HealthLevel.Black) return EscalationResult.None; // only HQ declares BLACK
        if (!_slots.TryGetValue(target.Slot, out var state) || !state.NodeId.Equals(target.NodeId)) return EscalationResult.None;
        if (reporter.Equals(target.NodeId)) return EscalationResult.None; // a mailbox cannot vouch about itself
        if (!IsMember(reporter)) return EscalationResult.None;
        var now = _time.GetUtcNow();
        var before = state.Level;
        if (level == HealthLevel.Green) state.Withdraw(reporter);
        else state.Assert(reporter, level, now, _options.MaxReportersPerSlot);
        return Evaluate(state, before, now);
    }

    /// <summary>
    /// Expires alerts not refreshed within <see cref="EscalationOptions.AlertTtl"/> (a slot falls to the highest level
    /// its remaining fresh alerts support); call periodically.
    /// </summary>
    public EscalationResult Tick()
    {
        var now = _time.GetUtcNow();
        var transitions = new List<FleetTransition>();
        foreach (var state in _slots.Values)
        {
            if (state.Reporters == 0 && state.Level == HealthLevel.Green) continue;
            var before = state.Level;
            state.Prune(now, _options.AlertTtl, IsMember);
            if (Recompute(state, now).Level != before) transitions.Add(Transition(state, before, now));
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

    private EscalationResult Evaluate(SlotAlerts state, HealthLevel before, DateTimeOffset now)
    {
        Recompute(state, now);
        if (state.Level == before) return EscalationResult.None;
        // The slot's own transition stays first (NoteRed rewrites it in place when a provider incident follows).
        var transitions = new List<FleetTransition> { Transition(state, before, now) };
        ProviderIncident? incident = null;
        if (state.Level == HealthLevel.Red) incident = NoteRed(state, now, transitions);
        return new EscalationResult(transitions, incident);
    }

    private ProviderIncident? NoteRed(SlotAlerts state, DateTimeOffset now, List<FleetTransition> transitions)
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

    private SlotAlerts Recompute(SlotAlerts state, DateTimeOffset now)
    {
        if (_incidents.Contains(state.Provider))
        {
            state.Level = HealthLevel.Black;
            return state;
        }
        state.Level = state.Supported(now, _options.AlertTtl, _options.RedConfirmations, IsMember);
        return state;
    }

    private EscalationResult Result(SlotAlerts state, ProviderIncident? incident, HealthLevel before) =>
        state.Level == before ? EscalationResult.None : new EscalationResult([Transition(state, before, _time.GetUtcNow())], incident);

    private static FleetTransition Transition(SlotAlerts s, HealthLevel from, DateTimeOffset at) =>
        new(s.Slot, s.NodeId, s.Provider, from, s.Level, at, s.RedCount);

    private void Join(PeerId node) => _members[node] = _members.GetValueOrDefault(node) + 1;

    private void Leave(PeerId node)
    {
        if (_members.TryGetValue(node, out var n) && n > 1) _members[node] = n - 1;
        else _members.Remove(node);
    }
}
