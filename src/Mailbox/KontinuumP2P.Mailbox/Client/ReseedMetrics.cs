using System.Diagnostics.Metrics;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>
/// The health loop's instruments (meter <see cref="GroupClientMetrics.MeterName"/>): reports sent, re-seed jobs
/// started and finished, blobs pushed to replacements, blobs skipped because the replacement held them, and pending
/// jobs.
/// </summary>
internal sealed class ReseedMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _reports;
    private readonly Counter<long> _jobs;
    private readonly Counter<long> _completed;
    private readonly Counter<long> _pushed;
    private readonly Counter<long> _skipped;

    public ReseedMetrics(IMeterFactory? factory, Func<long> pending)
    {
        _ownsMeter = factory is null;
        _meter = factory?.Create(GroupClientMetrics.MeterName) ?? new Meter(GroupClientMetrics.MeterName);
        _reports = _meter.CreateCounter<long>("kontinuum.mailbox.client.health_reports", description: "Unreachable-mailbox reports a survivor counted");
        _jobs = _meter.CreateCounter<long>("kontinuum.mailbox.client.reseed_jobs", description: "Replacement mailboxes found (re-seed jobs started)");
        _completed = _meter.CreateCounter<long>("kontinuum.mailbox.client.reseed_completed", description: "Re-seed jobs finished");
        _pushed = _meter.CreateCounter<long>("kontinuum.mailbox.client.reseed_pushed", description: "Blobs copied from a survivor to a replacement");
        _skipped = _meter.CreateCounter<long>("kontinuum.mailbox.client.reseed_skipped", description: "Survivor blobs the replacement already held");
        _meter.CreateObservableGauge("kontinuum.mailbox.client.reseed_pending", pending, description: "Unfinished re-seed jobs");
    }

    public void Reports(int n)
    {
        if (n > 0) _reports.Add(n);
    }

    public void JobStarted() => _jobs.Add(1);

    public void JobCompleted() => _completed.Add(1);

    public void Pushed() => _pushed.Add(1);

    public void Skipped(int n)
    {
        if (n > 0) _skipped.Add(n);
    }

    public void Dispose()
    {
        if (_ownsMeter) _meter.Dispose();
    }
}
