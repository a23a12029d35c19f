using System.Security.Cryptography;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Hq;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Hq.Registry;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Simulations.Network;
using KontinuumP2P.Simulations.Scenarios;

namespace KontinuumP2P.Simulations.Fleet;

/// <summary>One mailbox node (a starting slot holder or a spare): its layer-2 monitor and the devices registered at it.</summary>
internal sealed class MailboxNode(int index, PeerId peerId, string provider, string region, MailboxHealthMonitor monitor)
{
    public int Index { get; } = index;
    public PeerId PeerId { get; } = peerId;
    public string Provider { get; } = provider;
    public string Region { get; } = region;
    public MailboxHealthMonitor Monitor { get; } = monitor;
    public HashSet<int> Registered { get; } = [];

    /// <summary>Serving (started and not failed).</summary>
    public bool Alive { get; set; }

    /// <summary>Its provider is down: a spare there never comes up.</summary>
    public bool ProviderDown { get; set; }
}

/// <summary>A group: its 3 slots (indexes into <see cref="FleetWorld.SlotNames"/>) and its devices (device numbers).</summary>
internal sealed record SimGroup(int Index, int[] Slots, int[] Devices);

/// <summary>
/// The fleet of a run: HQ (the real <see cref="HqService"/>: SQLite registry, audit log, escalation machine, allocator,
/// replacement planner, slot sequences) over a temporary database; mailbox nodes each with a real
/// <see cref="MailboxHealthMonitor"/>; groups allocated by HQ; devices registered at their groups' mailboxes.
/// </summary>
internal sealed class FleetWorld : IDisposable
{
    private readonly string _dataDirectory;
    private readonly DevnetAuthority _authority;
    private readonly TimeProvider _time;

    public FleetWorld(ScenarioFile scenario, TimeProvider time)
    {
        _time = time;
        var f = scenario.Fleet ?? throw new ArgumentException("not a fleet scenario", nameof(scenario));
        Seed = scenario.Seed;
        Options = f;
        var anchors = Enumerable.Range(0, scenario.Authority.Anchors).Select(i => Key("anchor", i)).ToList();
        _authority = new DevnetAuthority("sim-fleet", anchors, scenario.Authority.Threshold, time);
        var hqKey = Key("hq", 0);
        var hqCert = _authority.IssueCertificate(hqKey, TimeSpan.FromDays(365), ["dht", SlotRecord.HqCapability]);
        // The HQ database is a real SQLite file; on tmpfs when there is one, since fsync cost is not what is measured.
        var root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        _dataDirectory = Path.Combine(root, $"kontinuum-fleet-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Hq = new HqService(_dataDirectory, hqKey, hqCert, new EscalationOptions(), time);
        var trust = TrustAnchors.Create(_authority.Network.Anchors!, time);
        SlotValidator = new SlotRecordValidator(() => trust, revocations: null);
        Link = new LinkModel
        {
            MinLatency = TimeSpan.FromMilliseconds(scenario.Network.MinLatencyMs),
            MaxLatency = TimeSpan.FromMilliseconds(scenario.Network.MaxLatencyMs),
            Jitter = TimeSpan.FromMilliseconds(scenario.Network.JitterMs),
            Loss = scenario.Network.Loss,
            BandwidthBitsPerSecond = (long)(scenario.Network.BandwidthMbps * 1_000_000),
            Seed = scenario.Seed,
        };
        DeviceCount = scenario.Nodes - 1 - f.Mailboxes;
        MonitorOptions = new HealthMonitorOptions();
        var providers = f.Providers;
        for (var i = 0; i < f.Mailboxes; i++)
        {
            var provider = providers[i % providers.Count];
            var region = f.Regions[i / providers.Count % f.Regions.Count];
            var node = NewNode(Key("mailbox", i), provider, region);
            node.Alive = true;
            var slot = $"mbx-{i:D4}";
            SlotNames.Add(slot);
            SlotIndex[slot] = i;
            var record = Hq.RegisterSlot("sim", slot, node.PeerId, provider, region, MailboxRole.Replica, f.Capacity);
            SlotHolder.Add(node.Index);
            Published.Add([Publishable(record, TimeSpan.Zero)]);
        }
        var spareNumber = 0;
        void AddSpare(string provider, int number)
        {
            var node = NewNode(Key("spare", spareNumber++), provider, f.Regions[number % f.Regions.Count]);
            Hq.Registry.AddSpare("sim", new SpareEntry(node.PeerId.ToString(), provider, node.Region, "", null));
        }
        for (var k = 0; k < f.SparesPerProvider; k++)
            foreach (var p in providers) AddSpare(p, k);
        for (var k = 0; k < f.StandbySpares; k++) AddSpare(f.StandbyProvider, k);
        for (var g = 0; g < f.Groups; g++)
        {
            var slots = Hq.AllocateGroup("sim", $"group-{g:D5}", MailboxRole.Replica, f.Regions[g % f.Regions.Count]);
            var devices = PickDevices(g, f.DevicesPerGroup);
            var group = new SimGroup(g, [.. slots.Select(s => SlotIndex[s])], devices);
            Groups.Add(group);
            foreach (var d in devices)
            {
                if (!GroupsOfDevice.TryGetValue(d, out var list)) GroupsOfDevice[d] = list = [];
                list.Add(g);
                foreach (var s in group.Slots) Nodes[SlotHolder[s]].Registered.Add(d);
            }
        }
        DeviceIds = [.. Enumerable.Range(0, DeviceCount).Select(d => BitConverter.GetBytes((long)d))];
    }

    public long Seed { get; }
    public FleetSection Options { get; }
    public HqService Hq { get; }
    public LinkModel Link { get; }
    public HealthMonitorOptions MonitorOptions { get; }

    /// <summary>The validator every node registers under <c>slot</c>: it judges and selects the records lookups return.</summary>
    public SlotRecordValidator SlotValidator { get; }

    /// <summary>
    /// A record HQ publishes, as the DHT would store it: refused unless the node's validator accepts it (HQ's
    /// certificate, its <c>hq</c> capability, the signature).
    /// </summary>
    public PublishedRecord Publishable(SlotRecord record, TimeSpan visibleAt)
    {
        ArgumentNullException.ThrowIfNull(record);
        var value = record.Encode();
        var verdict = SlotValidator.Validate(SlotRecord.KeyFor(record.Slot), value);
        if (!verdict.IsValid) throw new InvalidOperationException($"slot record {record.Slot} refused: {verdict.Reason}");
        return new PublishedRecord(value, visibleAt);
    }

    /// <summary>
    /// What a lookup of <paramref name="slot"/> returns now: the record the validator selects among those visible, and
    /// of a split record the node the client picks (<see cref="SlotRecord.NodeFor"/>) given the providers of its
    /// group's other mailboxes; -1 when no node of a split record fits.
    /// </summary>
    public int Resolve(int slot, TimeSpan now, IReadOnlyCollection<string> usedProviders)
    {
        var visible = Published[slot].Where(r => r.VisibleAt <= now).Select(r => (ReadOnlyMemory<byte>)r.Value).ToList();
        var best = visible[SlotValidator.Select(SlotRecord.KeyFor(SlotNames[slot]), visible)];
        return SlotRecord.Decode(best.Span).NodeFor(usedProviders) is { } node ? NodeById[node.ToString()].Index : -1;
    }

    /// <summary>Split slots (HQ's registry view): the nodes of each, in record order, with their providers.</summary>
    public Dictionary<int, List<MailboxNode>> SplitNodes { get; } = [];

    /// <summary>
    /// The node HQ's registry has serving <paramref name="slot"/> for <paramref name="group"/>: the slot's holder, or of
    /// a split slot the first node off the providers of the group's other (unsplit) slots; -1 when none fits.
    /// </summary>
    public int HolderFor(SimGroup group, int slot)
    {
        if (!SplitNodes.TryGetValue(slot, out var nodes)) return SlotHolder[slot];
        var used = group.Slots.Where(s => s != slot && !SplitNodes.ContainsKey(s)).Select(s => Nodes[SlotHolder[s]].Provider).ToHashSet(StringComparer.Ordinal);
        return nodes.FirstOrDefault(n => !used.Contains(n.Provider))?.Index ?? -1;
    }

    /// <summary>Mailbox nodes by index (starting holders first, then spares).</summary>
    public List<MailboxNode> Nodes { get; } = [];
    public Dictionary<string, MailboxNode> NodeById { get; } = new(StringComparer.Ordinal);
    public List<string> SlotNames { get; } = [];
    public Dictionary<string, int> SlotIndex { get; } = new(StringComparer.Ordinal);

    /// <summary>The node HQ's registry names for each slot (updated from HQ's replacements).</summary>
    public List<int> SlotHolder { get; } = [];

    /// <summary>Slot records HQ published per slot, and when each becomes visible to a lookup.</summary>
    public List<List<PublishedRecord>> Published { get; } = [];
    public List<SimGroup> Groups { get; } = [];
    public Dictionary<int, List<int>> GroupsOfDevice { get; } = [];
    public int DeviceCount { get; }
    public byte[][] DeviceIds { get; }

    /// <summary>Network number of a mailbox node (HQ is 0, mailboxes and spares follow, devices after them).</summary>
    public static long NetOfNode(int node) => 1 + node;

    public long NetOfDevice(int device) => 1 + Nodes.Count + device;

    public void Dispose()
    {
        Hq.Dispose();
        _authority.Dispose();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary directory is harmless.
        }
    }

    private MailboxNode NewNode(Ed25519Identity key, string provider, string region)
    {
        var node = new MailboxNode(Nodes.Count, key.PeerId, provider, region, new MailboxHealthMonitor(MonitorOptions, _time));
        Nodes.Add(node);
        NodeById[node.PeerId.ToString()] = node;
        return node;
    }

    private int[] PickDevices(int group, int count)
    {
        var chosen = new List<int>(count);
        for (var attempt = 0; chosen.Count < Math.Min(count, DeviceCount); attempt++)
        {
            var candidate = (int)(Mix.Hash(Seed, group, attempt, 0, 21) % (ulong)DeviceCount);
            if (!chosen.Contains(candidate)) chosen.Add(candidate);
        }
        return [.. chosen];
    }

    private Ed25519Identity Key(string purpose, int index) =>
        Ed25519Identity.FromSeed(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"kontinuum-sim-fleet/{purpose}/{Seed}/{index}")));
}

/// <summary>A signed slot record as published by HQ (wire bytes) and when lookups find it.</summary>
internal sealed record PublishedRecord(byte[] Value, TimeSpan VisibleAt);
