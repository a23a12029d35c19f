using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Simulations.Network;
using KontinuumP2P.Simulations.Scenarios;
using KontinuumP2P.Simulations.Time;

namespace KontinuumP2P.Simulations.Fleet;

/// <summary>
/// A fleet-health run in virtual time. The product's sans-I/O pieces decide everything: each mailbox's
/// <see cref="MailboxHealthMonitor"/> (report counting, checks, YELLOW/ORANGE/RED), HQ's <see cref="Hq.HqService"/>
/// (escalation incl. BLACK, replacement planning, slot sequences). The simulation only carries their messages over
/// the link model (latency, jitter, loss) and plays the devices, the failure and the provisioning delay.
/// Single-threaded: events run one at a time in the clock's order, so a seed gives the same results byte for byte.
/// </summary>
internal sealed class FleetSimulation : IDisposable
{
    private const int ReportBytes = 200;
    private const int CheckBytes = 100;
    private const int AlertBytes = 600;
    private static readonly TimeSpan MonitorTick = TimeSpan.FromSeconds(1); // HealthServiceOptions.Tick
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(10); // HealthServiceOptions.CheckTimeout

    private readonly VirtualTimeProvider _time = new();
    private readonly FleetWorld _world;
    private readonly FleetSection _f;
    private readonly FleetMetrics _metrics;
    // Per device, group and slot (a device runs one client per group, and a split slot resolves per group).
    private readonly Dictionary<(int Device, int Group, int Slot), int> _view = [];
    private readonly TimeSpan _failureAt;
    private readonly TimeSpan _end;
    private long _messages;

    public FleetSimulation(ScenarioFile scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        _world = new FleetWorld(scenario, _time);
        _f = _world.Options;
        _failureAt = TimeSpan.FromMinutes(_f.FailureMinute);
        _end = _failureAt + TimeSpan.FromMinutes(_f.Minutes);
        _metrics = new FleetMetrics(_world, _time, _failureAt, _view);
        foreach (var g in _world.Groups)
            foreach (var d in g.Devices)
                foreach (var s in g.Slots) _view[(d, g.Index, s)] = _world.SlotHolder[s];
    }

    /// <summary>Runs to the end and returns the figures.</summary>
    public RunResult Run(string variant, Action<double>? progress, CancellationToken cancellationToken)
    {
        for (var d = 0; d < _world.DeviceCount; d++)
        {
            var device = d;
            var phase = TimeSpan.FromSeconds(_f.DevicePollSeconds * Mix.Unit(_world.Seed, device, 0, 0, 10));
            _time.Schedule(phase, () => DevicePoll(device));
        }
        Every(MonitorTick, MonitorTickAll);
        Every(TimeSpan.FromSeconds(_f.HqTickSeconds), HqTick);
        Every(TimeSpan.FromSeconds(_f.SampleSeconds), _metrics.Sample);
        _time.Schedule(_failureAt, StartFailure);
        var lastProgress = TimeSpan.Zero;
        while (_time.TakeNext(_end) is { } next)
        {
            next();
            if (_time.Elapsed - lastProgress < TimeSpan.FromMinutes(1)) continue;
            cancellationToken.ThrowIfCancellationRequested();
            lastProgress = _time.Elapsed;
            progress?.Invoke(lastProgress / _end);
        }
        _time.AdvanceTo(_end);
        return _metrics.Result(variant, _messages);
    }

    public void Dispose() => _world.Dispose();

    private void Every(TimeSpan period, Action action)
    {
        void Tick()
        {
            action();
            _time.Schedule(period, Tick);
        }
        _time.Schedule(period, Tick);
    }

    private void StartFailure()
    {
        var providers = _f.Providers;
        switch (_f.Failure)
        {
            case "mailbox":
                // The k-th victim is on the (k mod P)-th provider, at a seed-drawn position among its slots.
                for (var k = 0; k < _f.KillCount; k++)
                {
                    var provider = providers[k % providers.Count];
                    var candidates = Enumerable.Range(0, _f.Mailboxes).Where(s => _world.Nodes[_world.SlotHolder[s]].Provider == provider
                        && _world.Nodes[_world.SlotHolder[s]].Alive).ToList();
                    var slot = candidates[(int)(Mix.Hash(_world.Seed, k, 0, 0, 30) % (ulong)candidates.Count)];
                    Kill(_world.Nodes[_world.SlotHolder[slot]]);
                }
                break;
            case "provider":
                var down = _f.FailedProvider.Length > 0 ? _f.FailedProvider : providers[0];
                foreach (var node in _world.Nodes.Where(n => n.Provider == down))
                {
                    node.ProviderDown = true;
                    if (node.Alive) Kill(node);
                }
                break;
            case "flood":
                StartFlood();
                break;
        }
    }

    private void Kill(MailboxNode node)
    {
        node.Alive = false;
        _metrics.NoteKilled(node);
    }

    // Devices sync with each of their groups' mailboxes; a failed slot is looked up again (its newest visible record)
    // and tried once more; what still fails is reported to the group's mailboxes that answered.
    private void DevicePoll(int device)
    {
        _time.Schedule(TimeSpan.FromSeconds(_f.DevicePollSeconds), () => DevicePoll(device));
        if (!_world.GroupsOfDevice.TryGetValue(device, out var groups)) return;
        var net = _world.NetOfDevice(device);
        foreach (var g in groups)
        {
            var group = _world.Groups[g];
            List<int>? reached = null;
            List<int>? failed = null;
            foreach (var s in group.Slots)
            {
                var node = _view[(device, g, s)];
                if (!Reach(device, net, node))
                {
                    // As the client does: a split slot resolves off the providers of the group's other mailboxes.
                    var used = group.Slots.Where(o => o != s && _view[(device, g, o)] >= 0).Select(o => _world.Nodes[_view[(device, g, o)]].Provider).ToHashSet(StringComparer.Ordinal);
                    var resolved = Resolve(s, used);
                    if (resolved < 0)
                    {
                        (failed ??= []).Add(s);
                        continue;
                    }
                    _view[(device, g, s)] = resolved;
                    if (resolved == node || !Reach(device, net, resolved))
                    {
                        (failed ??= []).Add(s);
                        continue;
                    }
                    node = resolved;
                }
                (reached ??= []).Add(node);
            }
            if (failed is null || reached is null) continue;
            foreach (var s in failed)
            {
                var target = new HealthTarget(_world.SlotNames[s], _world.Nodes[_view[(device, g, s)]].PeerId);
                foreach (var mailbox in reached) SendReport(device, net, mailbox, target);
            }
        }
    }

    // One request and its answer, retried once on a lost message (the client retries before it counts a mailbox as
    // failed); a device that reaches a mailbox is registered there (a replacement learns the device at its first
    // contact, as the client re-registers and re-pushes).
    private bool Reach(int device, long net, int node)
    {
        if (node < 0) return false;
        var mailbox = _world.Nodes[node];
        if (!mailbox.Alive) return false;
        var peer = FleetWorld.NetOfNode(node);
        for (var attempt = 0; attempt < 2; attempt++)
        {
            if (_world.Link.IsLost(net, peer, ++_messages) || _world.Link.IsLost(peer, net, ++_messages)) continue;
            mailbox.Registered.Add(device);
            return true;
        }
        return false;
    }

    private int Resolve(int slot, IReadOnlyCollection<string> usedProviders) => _world.Resolve(slot, _time.Elapsed, usedProviders);

    private void SendReport(int device, long net, int node, HealthTarget target)
    {
        var peer = FleetWorld.NetOfNode(node);
        var sequence = ++_messages;
        _metrics.ReportsSent++;
        if (_world.Link.IsLost(net, peer, sequence)) return;
        _time.Schedule(_world.Link.Delay(net, peer, sequence, ReportBytes), () => DeliverReport(device, node, target));
    }

    private void DeliverReport(int device, int node, HealthTarget target)
    {
        var mailbox = _world.Nodes[node];
        if (!mailbox.Alive) return;
        // The health service counts a report only when the device is registered at this mailbox.
        if (!mailbox.Registered.Contains(device))
        {
            _metrics.ReportsIgnored++;
            return;
        }
        if (mailbox.Monitor.RecordReport(target, _world.DeviceIds[device]) is { } t) OnMailboxTransition(mailbox, t);
    }

    private void MonitorTickAll()
    {
        foreach (var mailbox in _world.Nodes)
        {
            if (!mailbox.Alive || mailbox.Monitor.TrackedTargets == 0) continue;
            foreach (var target in mailbox.Monitor.TakeDueChecks()) Check(mailbox, target);
            foreach (var status in mailbox.Monitor.TakeAlertRefreshes()) SendAlert(mailbox, status.Target, status.Level);
        }
    }

    private void Check(MailboxNode mailbox, HealthTarget target)
    {
        _metrics.Checks++;
        var from = FleetWorld.NetOfNode(mailbox.Index);
        var targetNode = _world.NodeById[target.NodeId.ToString()];
        var to = FleetWorld.NetOfNode(targetNode.Index);
        var request = ++_messages;
        var answer = ++_messages;
        var ok = targetNode.Alive && !_world.Link.IsLost(from, to, request) && !_world.Link.IsLost(to, from, answer);
        var after = ok ? _world.Link.Delay(from, to, request, CheckBytes) + _world.Link.Delay(to, from, answer, CheckBytes) : CheckTimeout;
        _time.Schedule(after, () =>
        {
            if (!mailbox.Alive) return;
            if (mailbox.Monitor.RecordCheck(target, ok) is { } t) OnMailboxTransition(mailbox, t);
        });
    }

    private void OnMailboxTransition(MailboxNode mailbox, HealthTransition t)
    {
        _metrics.NoteMailboxTransition(t);
        SendAlert(mailbox, t.Target, t.To);
    }

    private void SendAlert(MailboxNode mailbox, HealthTarget target, HealthLevel level)
    {
        var from = FleetWorld.NetOfNode(mailbox.Index);
        var sequence = ++_messages;
        _metrics.AlertsSent++;
        if (_world.Link.IsLost(from, 0, sequence)) return; // re-sent with the next refresh
        _time.Schedule(_world.Link.Delay(from, 0, sequence, AlertBytes), () => OnHq(_world.Hq.OnAlert(mailbox.PeerId, target, level)));
    }

    private void HqTick()
    {
        OnHq(_world.Hq.Tick());
        foreach (var (replacement, record) in _world.Hq.ReplaceDownSlots("hq"))
        {
            var slot = _world.SlotIndex[replacement.Slot];
            var spare = _world.NodeById[replacement.Spare.Id];
            _metrics.NoteReplacement(_world.SlotHolder[slot]);
            _world.SlotHolder[slot] = spare.Index;
            var provision = TimeSpan.FromSeconds(_f.ProvisionSeconds);
            // A spare on a provider that is down never starts; the record is published all the same (as HqNodeService does).
            _time.Schedule(provision, () => spare.Alive = !spare.ProviderDown);
            _world.Published[slot].Add(_world.Publishable(record, _time.Elapsed + provision + TimeSpan.FromSeconds(_f.SlotPropagationSeconds)));
        }
        // No spare kept the groups diverse: HQ splits the slot over live mailboxes (nothing to start, only to publish).
        foreach (var (split, record) in _world.Hq.SplitDownSlots("hq"))
        {
            var slot = _world.SlotIndex[split.Slot];
            _metrics.NoteSplit(_world.SlotHolder[slot]);
            _world.SplitNodes[slot] = [.. split.Parts.Select(p => _world.Nodes[_world.SlotHolder[_world.SlotIndex[p.HostSlot]]])];
            _world.Published[slot].Add(_world.Publishable(record, _time.Elapsed + TimeSpan.FromSeconds(_f.SlotPropagationSeconds)));
        }
    }

    private void OnHq(EscalationResult result)
    {
        if (result.Incident is { } incident) _metrics.NoteIncident(incident);
        foreach (var t in result.Transitions) _metrics.NoteHqTransition(t);
    }

    // Lying devices report a healthy slot to a flooded mailbox again and again: the registered liars are devices of
    // that mailbox's own groups, the others are devices it never registered.
    private void StartFlood()
    {
        var stop = _time.Elapsed + TimeSpan.FromMinutes(_f.FloodMinutes);
        // Only slots that serve a group have registered devices (and a fellow slot to lie about).
        var serving = _world.Groups.SelectMany(g => g.Slots).Distinct().Order().ToList();
        for (var k = 0; k < _f.FloodedMailboxes; k++)
        {
            var slot = serving[(int)(Mix.Hash(_world.Seed, k, 0, 0, 40) % (ulong)serving.Count)];
            var mailbox = _world.SlotHolder[slot];
            var group = _world.Groups.First(g => g.Slots.Contains(slot));
            var victimSlot = group.Slots.First(s => s != slot);
            var target = new HealthTarget(_world.SlotNames[victimSlot], _world.Nodes[_world.SlotHolder[victimSlot]].PeerId);
            _metrics.NoteFloodTarget(target);
            var registered = _world.Nodes[mailbox].Registered.Order().Take(_f.RegisteredLiars).ToList();
            var others = Enumerable.Range(0, _world.DeviceCount).Where(d => !_world.Nodes[mailbox].Registered.Contains(d)).Take(_f.UnregisteredLiars);
            foreach (var liar in registered.Concat(others))
            {
                var phase = TimeSpan.FromSeconds(_f.LiarIntervalSeconds * Mix.Unit(_world.Seed, liar, k, 0, 41));
                _time.Schedule(phase, () => Lie(liar, mailbox, target, stop));
            }
        }
    }

    private void Lie(int liar, int mailbox, HealthTarget target, TimeSpan stop)
    {
        if (_time.Elapsed >= stop) return;
        SendReport(liar, _world.NetOfDevice(liar), mailbox, target);
        _time.Schedule(TimeSpan.FromSeconds(_f.LiarIntervalSeconds), () => Lie(liar, mailbox, target, stop));
    }
}
