using System.Diagnostics.Metrics;
using KontinuumP2P.Dht.Rpc;

namespace KontinuumP2P.Dht;

/// <summary>The node's instruments, created from an <see cref="IMeterFactory"/> (or a private meter) per node.</summary>
internal sealed class DhtMetrics : IDisposable
{
    public const string MeterName = "KontinuumP2P.Dht";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _queries;
    private readonly Histogram<double> _rpcDuration;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _requestsServed;
    private readonly Counter<long> _answersIgnored;
    private readonly Counter<long> _rateLimited;

    public DhtMetrics(IMeterFactory? factory, Func<IEnumerable<Measurement<int>>> bucketSizes, Func<long> recordsStored, Func<long> providersStored)
    {
        _ownsMeter = factory is null;
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _queries = _meter.CreateCounter<long>("kontinuum.dht.queries", description: "Lookups started, by kind");
        _rpcDuration = _meter.CreateHistogram<double>("kontinuum.dht.rpc.duration", "ms", "Outbound kad request latency");
        _rejected = _meter.CreateCounter<long>("kontinuum.dht.records.rejected", description: "Records refused, by reason");
        _requestsServed = _meter.CreateCounter<long>("kontinuum.dht.requests.served", description: "Inbound requests, by type");
        _answersIgnored = _meter.CreateCounter<long>("kontinuum.dht.answers.ignored", description: "Lookup answers not used, by reason");
        _rateLimited = _meter.CreateCounter<long>("kontinuum.dht.requests.rate_limited", description: "Inbound requests refused by the per-peer rate");
        _meter.CreateObservableGauge("kontinuum.dht.routing_table.size", bucketSizes, description: "Entries per non-empty bucket");
        _meter.CreateObservableGauge("kontinuum.dht.records.stored", recordsStored, description: "Value records stored");
        _meter.CreateObservableGauge("kontinuum.dht.providers.stored", providersStored, description: "Provider records stored");
    }

    public void QueryStarted(string kind) => _queries.Add(1, new KeyValuePair<string, object?>("kind", kind));

    public void RpcCompleted(KadMessageType type, bool success, TimeSpan duration) =>
        _rpcDuration.Record(duration.TotalMilliseconds,
            new KeyValuePair<string, object?>("type", type.ToString()),
            new KeyValuePair<string, object?>("outcome", success ? "ok" : "error"));

    public void RecordRejected(string reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void AnswerIgnored(string reason) => _answersIgnored.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void RequestRateLimited() => _rateLimited.Add(1);

    public void RequestServed(KadMessageType type) => _requestsServed.Add(1, new KeyValuePair<string, object?>("type", type.ToString()));

    public void Dispose()
    {
        if (_ownsMeter) _meter.Dispose();
    }
}
