using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Hq.Provisioning;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Hosting;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Hq;

/// <summary>Something HQ's node did, for <c>hq run</c>'s output and tests.</summary>
/// <param name="Kind"><c>level</c> (a slot's fleet level changed), <c>replaced</c>, <c>drained</c>, <c>stopped</c>, <c>provision-failed</c>, <c>provision-abandoned</c> or <c>published</c>.</param>
/// <param name="Slot">The slot.</param>
/// <param name="NodeId">The node concerned (the failing one for <c>level</c>, the replacement otherwise).</param>
/// <param name="Detail">The new level, the slot sequence, or the error.</param>
/// <param name="At">When.</param>
public sealed record HqNodeEvent(string Kind, string Slot, string NodeId, string Detail, DateTimeOffset At);

/// <summary>Settings of <see cref="HqNodeService"/>.</summary>
/// <param name="Tick">How often alerts expire and down slots are replaced.</param>
/// <param name="SlotRepublish">How often every slot record is put into the DHT again.</param>
public sealed record HqNodeOptions(TimeSpan Tick, TimeSpan SlotRepublish);

/// <summary>
/// HQ composed into a node (<see cref="KontinuumNodeBuilder.AddService"/>): serves <c>/kontinuum/health/1.0.0</c> to
/// take signed mailbox alerts (<see cref="HqAlertReceiver"/>), and on every tick expires stale alerts, replaces down
/// slots from the spare pool through the provisioner and publishes the new <c>/slot/</c> records; it republishes every
/// slot's record periodically. One background loop, stopped on dispose.
/// </summary>
public sealed partial class HqNodeService : INodeService
{
    private readonly KontinuumNode _node;
    private readonly HqService _hq;
    private readonly IProvisioner? _provisioner;
    private readonly HqNodeOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private HealthService? _health;
    private HqAlertReceiver? _receiver;
    private Task? _loop;

    /// <summary>Creates the service (the node starts it).</summary>
    public HqNodeService(KontinuumNode node, HqService hq, IProvisioner? provisioner, HqNodeOptions options)
    {
        _node = node ?? throw new ArgumentNullException(nameof(node));
        _hq = hq ?? throw new ArgumentNullException(nameof(hq));
        _provisioner = provisioner;
        _options = options ?? throw new ArgumentNullException(nameof(options));
        if (!node.PeerId.Equals(hq.PeerId)) throw new ArgumentException($"HQ's node runs as {node.PeerId}, but HQ's key is {hq.PeerId}", nameof(node));
        _logger = node.Services.LoggerFactory.CreateLogger<HqNodeService>();
    }

    /// <summary>Raised for every level change, replacement and publication (from the loop or an alert's stream).</summary>
    public event Action<HqNodeEvent>? Changed;

    /// <inheritdoc />
    public string Name => "hq";

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_loop is not null) throw new InvalidOperationException("already started");
        var host = _node.Host ?? throw new InvalidOperationException("HQ needs a libp2p host");
        var anchors = _node.Anchors ?? throw new InvalidOperationException("HQ needs a Tier 0 network (anchors) to judge alerts");
        _receiver = new HqAlertReceiver(_hq, () => _node.Anchors ?? anchors, _node.Revocations);
        _receiver.Escalated += OnEscalated;
        _health = new HealthService(host, new HealthServiceOptions(), NoDevices.Instance, _node.Options.Identity!, _node.Options.Certificate
            ?? throw new InvalidOperationException("HQ's node needs its certificate"), sink: null, _receiver, _node.Services.TimeProvider, _node.Services.LoggerFactory);
        _health.Start();
        _loop = LoopAsync(_stop.Token);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        if (_receiver is not null) _receiver.Escalated -= OnEscalated;
        if (_health is not null) await _health.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>Expires alerts, replaces down slots and publishes their records once (the loop's work; tests call it directly).</summary>
    public async Task TickAsync(CancellationToken cancellationToken)
    {
        OnEscalated(_hq.Tick());
        var spares = _hq.Registry.FreeSpares().ToDictionary(s => s.Id, StringComparer.Ordinal);
        foreach (var (replacement, record) in _hq.ReplaceDownSlots("hq"))
        {
            var slot = replacement.Slot;
            if (_provisioner is not null && spares.TryGetValue(replacement.Spare.Id, out var spare))
            {
                try
                {
                    await _provisioner.StartAsync(spare, slot, cancellationToken).ConfigureAwait(false);
                    _hq.ProvisionSucceeded(slot);
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or TimeoutException or UnauthorizedAccessException
                                              or System.ComponentModel.Win32Exception)
                {
                    // The registry names the spare; the record still goes out so clients stop using the dead node, and
                    // the slot is down again: another spare is tried after the backoff.
                    var failure = _hq.ProvisionFailed("hq", slot, replacement.Spare.Id, e.Message);
                    LogProvisionFailed(_logger, slot, replacement.Spare.Id, e.Message);
                    Raise("provision-failed", slot, replacement.Spare.Id, e.Message);
                    if (failure.RetryAt is null)
                    {
                        LogProvisionAbandoned(_logger, slot, failure.Attempt);
                        Raise("provision-abandoned", slot, replacement.Spare.Id, $"{failure.Attempt} attempts");
                    }
                }
            }
            Raise("replaced", slot, replacement.Spare.Id, record.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await PublishAsync(record, cancellationToken).ConfigureAwait(false);
        }
        await DeliverDrainsAsync(cancellationToken).ConfigureAwait(false);
        // Slots no spare could take while keeping their groups diverse are split over live nodes, one per provider.
        foreach (var (split, record) in _hq.SplitDownSlots("hq"))
        {
            Raise("split", split.Slot, string.Join('+', split.Parts.Select(p => p.HostSlot)), record.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await PublishAsync(record, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        var time = _node.Services.TimeProvider;
        await PublishAllAsync(cancellationToken).ConfigureAwait(false);
        var nextRepublish = time.GetUtcNow() + _options.SlotRepublish;
        using var timer = new PeriodicTimer(_options.Tick, time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await TickAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or IOException or AllocationException
                                          or Microsoft.Data.Sqlite.SqliteException && !cancellationToken.IsCancellationRequested)
            {
                // One bad tick (a busy database, an allocation that cannot be made) must not end HQ's loop.
                LogTickFailed(_logger, e.Message);
            }
            if (time.GetUtcNow() < nextRepublish) continue;
            nextRepublish = time.GetUtcNow() + _options.SlotRepublish;
            await PublishAllAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Puts every live slot's record into the DHT now (e.g. after slots were registered while the node ran).</summary>
    public async Task PublishAllAsync(CancellationToken cancellationToken)
    {
        foreach (var slot in _hq.Registry.Slots().Where(s => s.Status != Allocation.SlotStatus.Retired))
            await PublishAsync(_hq.SlotRecordOf(slot.Slot), cancellationToken).ConfigureAwait(false);
    }

    private async Task PublishAsync(SlotRecord record, CancellationToken cancellationToken)
    {
        int stored;
        try
        {
            stored = await _node.PublishSlotRecordAsync(record, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            LogPublishFailed(_logger, record.Slot, e.Message); // the next republish tries again
            return;
        }
        LogPublished(_logger, record.Slot, record.NodeId.ToString(), record.Sequence, stored);
        Raise("published", record.Slot, record.NodeId.ToString(), $"{record.Sequence}/{stored}");
    }

    private void OnEscalated(EscalationResult result)
    {
        foreach (var t in result.Transitions) Raise("level", t.Slot, t.NodeId.ToString(), t.To.ToString().ToLowerInvariant());
    }

    private void Raise(string kind, string slot, string nodeId, string detail) =>
        Changed?.Invoke(new HqNodeEvent(kind, slot, nodeId, detail, _node.Services.TimeProvider.GetUtcNow()));

    // HQ holds no mailboxes: no device is registered here, so device reports are never counted.
    private sealed class NoDevices : IRegisteredDevices
    {
        public static readonly NoDevices Instance = new();

        public ValueTask<bool> IsRegisteredAsync(ReadOnlyMemory<byte> mailboxId, ReadOnlyMemory<byte> capability, ReadOnlyMemory<byte> deviceId,
            CancellationToken cancellationToken) => ValueTask.FromResult(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "HQ: slot {Slot} -> {NodeId} (sequence {Sequence}) stored by {Stored} peers")]
    private static partial void LogPublished(ILogger logger, string slot, string nodeId, ulong sequence, int stored);

    [LoggerMessage(Level = LogLevel.Error, Message = "HQ: tick failed, trying again on the next: {Reason}")]
    private static partial void LogTickFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "HQ: publishing slot {Slot} failed: {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string slot, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "HQ: gave up replacing slot {Slot} after {Attempts} failed starts; an operator must act")]
    private static partial void LogProvisionAbandoned(ILogger logger, string slot, int attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "HQ: starting spare {Spare} for slot {Slot} failed: {Reason}")]
    private static partial void LogProvisionFailed(ILogger logger, string slot, string spare, string reason);
}
