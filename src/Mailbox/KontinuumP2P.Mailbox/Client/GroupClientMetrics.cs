using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>
/// The group client's instruments, from <see cref="GroupClientOptions.MeterFactory"/> (or a private meter): pushes,
/// durable acknowledgements, failed deliveries, applied blobs, the outbox depth and the pull lag (blobs the mailboxes
/// hold past this device's committed cursors, as of the last page read from each).
/// </summary>
internal sealed class GroupClientMetrics : IDisposable
{
    public const string MeterName = "KontinuumP2P.Mailbox.Client";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _pushes;
    private readonly Counter<long> _acks;
    private readonly Counter<long> _failures;
    private readonly Counter<long> _applied;
    private readonly ConcurrentDictionary<string, long> _lag = new(StringComparer.Ordinal);

    public GroupClientMetrics(IMeterFactory? factory, Func<long> outboxDepth)
    {
        _ownsMeter = factory is null;
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _pushes = _meter.CreateCounter<long>("kontinuum.mailbox.client.pushes", description: "Blobs sealed and pushed");
        _acks = _meter.CreateCounter<long>("kontinuum.mailbox.client.acks", description: "Durable acknowledgements from mailboxes");
        _failures = _meter.CreateCounter<long>("kontinuum.mailbox.client.push_failures", description: "Deliveries that failed and stay in the outbox");
        _applied = _meter.CreateCounter<long>("kontinuum.mailbox.client.applied", description: "Blobs newly applied from pulls");
        _meter.CreateObservableGauge("kontinuum.mailbox.client.outbox", outboxDepth, description: "Outbox rows owed to mailboxes");
        _meter.CreateObservableGauge("kontinuum.mailbox.client.pull_lag", () => _lag.Values.Sum(), description: "Blobs held by the mailboxes past the committed cursors");
    }

    public void Pushed() => _pushes.Add(1);

    public void Acked() => _acks.Add(1);

    public void Failed() => _failures.Add(1);

    public void Applied(int blobs)
    {
        if (blobs > 0) _applied.Add(blobs);
    }

    /// <summary>Records how far a mailbox is ahead of the committed cursor (0 when caught up).</summary>
    public void Lag(string slot, ulong maxCursor, ulong committed) => _lag[slot] = maxCursor > committed ? (long)(maxCursor - committed) : 0;

    public void Dispose()
    {
        if (_ownsMeter) _meter.Dispose();
    }
}
