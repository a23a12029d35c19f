using System.Text.Json;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Audit;
using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Hq.Provisioning;
using KontinuumP2P.Hq.Registry;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Hq;

/// <summary>One row of <c>hq status</c> (design §6).</summary>
/// <param name="Slot">Slot name.</param>
/// <param name="PeerId">Node holding it.</param>
/// <param name="Provider">Provider.</param>
/// <param name="Region">Region.</param>
/// <param name="State">green, yellow, orange, red, black or draining.</param>
/// <param name="Groups">Groups assigned.</param>
public sealed record MailboxStatusRow(string Slot, string PeerId, string Provider, string Region, string State, int Groups);

/// <summary><c>hq status</c>.</summary>
/// <param name="Mailboxes">Every slot.</param>
/// <param name="Incidents">Open provider incidents.</param>
public sealed record HqStatus(IReadOnlyList<MailboxStatusRow> Mailboxes, IReadOnlyList<string> Incidents)
{
    /// <summary>Open drains and what each waits for before <c>hq decommission</c>.</summary>
    public IReadOnlyList<DrainStatusRow> Drains { get; init; } = [];
}

/// <summary>
/// HQ's core (layer 3), without I/O of its own: the registry and audit log in SQLite, the escalation state machine
/// fed by mailbox alerts, allocation of new groups, replacement of RED/BLACK slots from the spare pool, drain, and
/// the signed slot records to publish. Thread-safe (one lock around the state machine).
/// </summary>
public sealed partial class HqService : IDisposable
{
    private readonly Lock _lock = new();
    private readonly HashSet<string> _unplacedAudited = new(StringComparer.Ordinal);
    private readonly FleetEscalation _escalation;
    private readonly ProvisioningRetries _retries;
    private ProvisioningRetryOptions _retry = new();
    private readonly Ed25519Identity _key;
    private readonly Certificate _certificate;
    private readonly TimeProvider _time;

    /// <summary>Opens HQ's state in <paramref name="dataDirectory"/>.</summary>
    public HqService(string dataDirectory, Ed25519Identity key, Certificate certificate, EscalationOptions escalation, TimeProvider time)
        : this(HqDatabase.Open(dataDirectory), key, certificate, escalation, time)
    {
    }

    /// <summary>Runs over an open database (taking ownership of it).</summary>
    public HqService(HqDatabase database, Ed25519Identity key, Certificate certificate, EscalationOptions escalation, TimeProvider time)
    {
        Database = database ?? throw new ArgumentNullException(nameof(database));
        _key = key ?? throw new ArgumentNullException(nameof(key));
        _certificate = certificate ?? throw new ArgumentNullException(nameof(certificate));
        if (!certificate.Body.NodePublicKey.Span.SequenceEqual(key.PublicKey))
            throw new ArgumentException("HQ's key is not the node key of its certificate", nameof(key));
        if (!certificate.Body.Capabilities.Contains(SlotRecord.HqCapability))
            throw new ArgumentException($"HQ's certificate lacks the '{SlotRecord.HqCapability}' capability", nameof(certificate));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        Audit = new AuditLog(Database, key, time);
        Registry = new FleetRegistry(Database, Audit, time);
        _escalation = new FleetEscalation(escalation, time);
        _retries = new ProvisioningRetries(new ProvisionAttemptStore(Database));
        // A split slot's health is its hosts' health, tracked under their own slots.
        foreach (var s in Registry.Slots().Where(s => s.Status is not (SlotStatus.Retired or SlotStatus.Split)))
            _escalation.SetSlot(s.Slot, PeerId.Parse(s.NodeId), s.Provider);
    }

    /// <summary>The database.</summary>
    public HqDatabase Database { get; }

    /// <summary>The audit log.</summary>
    public AuditLog Audit { get; }

    /// <summary>The fleet registry.</summary>
    public FleetRegistry Registry { get; }

    /// <summary>How a failed provisioning is retried (another spare after a backoff, a bounded number of times).</summary>
    public ProvisioningRetryOptions ProvisioningRetry
    {
        get
        {
            lock (_lock) return _retry;
        }
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            value.Validate();
            lock (_lock) _retry = value;
        }
    }

    /// <summary>HQ's node id.</summary>
    public PeerId PeerId => _key.PeerId;

    /// <summary>HQ's public key (verifies the audit log).</summary>
    public byte[] PublicKey => _key.PublicKey;

    /// <summary>Registers (or updates) a slot and returns its signed record to publish.</summary>
    public SlotRecord RegisterSlot(string actor, string slot, PeerId nodeId, string provider, string region, MailboxRole role, int capacity)
    {
        SlotRecord.CheckSlotName(slot);
        var entry = Registry.UpsertSlot(actor, slot, nodeId.ToString(), provider, region, role, capacity);
        lock (_lock) _escalation.SetSlot(slot, nodeId, provider);
        return RecordOf(entry);
    }

    /// <summary>The current signed record of a slot.</summary>
    public SlotRecord SlotRecordOf(string slot) => RecordOf(Registry.GetSlot(slot) ?? throw new KeyNotFoundException($"unknown slot '{slot}'"));

    /// <summary>Allocates 3 slots on distinct providers to a new group.</summary>
    /// <exception cref="AllocationException">Not enough providers.</exception>
    public IReadOnlyList<string> AllocateGroup(string actor, string groupId, MailboxRole role, string? region)
    {
        HashSet<string> incidents;
        lock (_lock) incidents = [.. _escalation.ProviderIncidents];
        var slots = Allocator.AllocateGroup([.. Registry.Slots().Select(s => s.ToInfo())], role, region, incidents);
        Registry.AddGroup(actor, groupId, slots);
        return slots;
    }

    /// <summary>
    /// Applies a verified mailbox alert. Slots that become RED or BLACK are marked down; a slot that recovers is
    /// marked active again. Returns what changed.
    /// </summary>
    public EscalationResult OnAlert(PeerId reporter, HealthTarget target, HealthLevel level)
    {
        EscalationResult result;
        lock (_lock) result = _escalation.OnAlert(reporter, target, level);
        Record(result, reporter.ToString());
        return result;
    }

    /// <summary>Expires stale alerts; call periodically.</summary>
    public EscalationResult Tick()
    {
        EscalationResult result;
        lock (_lock) result = _escalation.Tick();
        Record(result, "hq");
        return result;
    }

    /// <summary>
    /// Plans and records replacements for every down slot from the spare pool (diversity-preserving) and returns
    /// them with their new slot records; the caller starts the spares and publishes the records.
    /// </summary>
    public IReadOnlyList<(Replacement Replacement, SlotRecord Record)> ReplaceDownSlots(string actor)
    {
        var slots = Registry.Slots();
        var down = DueDownSlots(slots);
        if (down.Count == 0) return [];
        HashSet<string> incidents;
        lock (_lock) incidents = [.. _escalation.ProviderIncidents];
        var plan = Allocator.PlanReplacements([.. slots.Select(s => s.ToInfo())], Registry.Groups(), down, incidents,
            [.. Registry.FreeSpares().Select(s => new SpareIdentity(s.Id, s.Provider, s.Region))]);
        var done = new List<(Replacement, SlotRecord)>();
        foreach (var r in plan.Replacements)
        {
            var entry = Registry.UseSpare(actor, r.Spare.Id, r.Slot);
            lock (_lock) _escalation.SetSlot(r.Slot, PeerId.Parse(entry.NodeId), entry.Provider);
            done.Add((r, RecordOf(entry)));
        }
        // Called every tick: a slot left unplaced is audited once, not once per tick, until it is placed again.
        lock (_lock)
        {
            _unplacedAudited.IntersectWith(down);
            foreach (var r in plan.Replacements) _unplacedAudited.Remove(r.Slot);
        }
        foreach (var u in plan.Unplaced)
        {
            bool first;
            lock (_lock) first = _unplacedAudited.Add(u.Slot);
            if (first) Audit.Append(actor, "slot.unplaced", JsonSerializer.Serialize(u));
        }
        return done;
    }

    /// <summary>
    /// The node started for <paramref name="slot"/> from <paramref name="spareId"/> did not come up. The spare stays
    /// used (it is never tried again), the slot goes down again so that the next <see cref="ReplaceDownSlots"/> after
    /// the backoff picks another spare, and both the failure and, after <see cref="ProvisioningRetryOptions.MaxAttempts"/>,
    /// giving up are audited.
    /// </summary>
    public ProvisionFailure ProvisionFailed(string actor, string slot, string spareId, string error)
    {
        ProvisionFailure failure;
        lock (_lock) failure = _retries.Failed(slot, _time.GetUtcNow(), _retry);
        Audit.Append(actor, "provision.failed", JsonSerializer.Serialize(new
        {
            slot, spare = spareId, attempt = failure.Attempt, maxAttempts = failure.MaxAttempts, retryAt = failure.RetryAt, error,
        }));
        Registry.SetStatus(actor, slot, SlotStatus.Down, $"provisioning {spareId} failed: {error}");
        if (failure.RetryAt is null)
            Audit.Append(actor, "provision.abandoned", JsonSerializer.Serialize(new { slot, attempts = failure.Attempt }));
        return failure;
    }

    /// <summary>The node started for <paramref name="slot"/> came up: its failure count is cleared.</summary>
    public void ProvisionSucceeded(string slot)
    {
        lock (_lock) _retries.Succeeded(slot);
    }

    /// <summary>The fleet as <c>hq status</c> shows it.</summary>
    public HqStatus Status() => StatusOf(Registry) with { Drains = DrainStatusOf(Registry, _time.GetUtcNow(), DrainSettle) };

    /// <summary>The fleet as <c>hq status</c> shows it, from the registry alone (works while another process runs HQ).</summary>
    public static HqStatus StatusOf(FleetRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var slots = registry.Slots();
        var rows = slots.Select(s => new MailboxStatusRow(s.Slot, s.NodeId, s.Provider, s.Region,
            s.Status == SlotStatus.Draining ? "draining"
            : s.Status == SlotStatus.Retired ? "retired"
            : s.Status == SlotStatus.Split ? "split"
            : s.Level.ToString().ToLowerInvariant(), s.AssignedGroups)).ToList();
        var incidents = slots.Where(s => s.Level == HealthLevel.Black).Select(s => s.Provider).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return new HqStatus(rows, incidents) { Drains = DrainStatusOf(registry, registry.Now, DefaultDrainSettle) };
    }

    /// <inheritdoc />
    public void Dispose() => Database.Dispose();

    private void Record(EscalationResult result, string actor)
    {
        if (result.Incident is { } incident)
            Audit.Append(actor, "provider.incident", JsonSerializer.Serialize(new { incident.Provider, incident.Slots }));
        foreach (var t in result.Transitions)
        {
            Audit.Append(actor, "slot.level", JsonSerializer.Serialize(new { t.Slot, nodeId = t.NodeId.ToString(), from = t.From.ToString(), to = t.To.ToString(), t.RedConfirmations }));
            var entry = Registry.GetSlot(t.Slot);
            if (entry is not null && entry.NodeId == t.NodeId.ToString()) Registry.SetLevel(t.Slot, t.To);
            if (entry is null || entry.NodeId != t.NodeId.ToString() || entry.Status is SlotStatus.Draining or SlotStatus.Retired or SlotStatus.Split) continue;
            if (t.To >= HealthLevel.Red) Registry.SetStatus(actor, t.Slot, SlotStatus.Down, t.To.ToString());
            else if (entry.Status == SlotStatus.Down) Registry.SetStatus(actor, t.Slot, SlotStatus.Active, "recovered");
        }
    }

    private SlotRecord RecordOf(SlotEntry entry)
    {
        if (entry.Status == SlotStatus.Split && Registry.Splits().GetValueOrDefault(entry.Slot) is { Count: >= 2 } parts)
        {
            return SlotRecord.CreateSplit(entry.Slot, [.. parts.Select(p => new SlotNode(PeerId.Parse(p.NodeId), p.Part.Provider))], entry.Sequence,
                _time.GetUtcNow(), _certificate, _key);
        }
        return SlotRecord.Create(entry.Slot, PeerId.Parse(entry.NodeId), entry.Sequence, _time.GetUtcNow(), _certificate, _key);
    }
}
