using System.Diagnostics.Metrics;

namespace KontinuumP2P.Mailbox.Storage;

/// <summary>The store's instruments, from an <see cref="IMeterFactory"/> (or a private meter); gauges read in-memory counters.</summary>
internal sealed class MailboxStoreMetrics : IDisposable
{
    public const string MeterName = "KontinuumP2P.Mailbox";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _pushes;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _deleted;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _commitDuration;

    public MailboxStoreMetrics(IMeterFactory? factory, Func<long> mailboxes, Func<long> blobs, Func<long> bytes)
    {
        _ownsMeter = factory is null;
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _pushes = _meter.CreateCounter<long>("kontinuum.mailbox.pushes", description: "Blobs committed");
        _duplicates = _meter.CreateCounter<long>("kontinuum.mailbox.duplicates", description: "Pushes answered with an existing cursor");
        _deleted = _meter.CreateCounter<long>("kontinuum.mailbox.deleted", description: "Blobs deleted by retention");
        _batchSize = _meter.CreateHistogram<int>("kontinuum.mailbox.commit.operations", description: "Operations per group commit");
        _commitDuration = _meter.CreateHistogram<double>("kontinuum.mailbox.commit.duration", "ms", "Group commit duration");
        _meter.CreateObservableGauge("kontinuum.mailbox.mailboxes", mailboxes, description: "Mailboxes held");
        _meter.CreateObservableGauge("kontinuum.mailbox.blobs", blobs, description: "Blobs held");
        _meter.CreateObservableGauge("kontinuum.mailbox.bytes", bytes, "By", "Blob bytes held");
    }

    public void Committed(int operations, TimeSpan duration)
    {
        _batchSize.Record(operations);
        _commitDuration.Record(duration.TotalMilliseconds);
    }

    public void Counted(long pushes, long duplicates, long deleted)
    {
        if (pushes > 0) _pushes.Add(pushes);
        if (duplicates > 0) _duplicates.Add(duplicates);
        if (deleted > 0) _deleted.Add(deleted);
    }

    public void Dispose()
    {
        if (_ownsMeter) _meter.Dispose();
    }
}
