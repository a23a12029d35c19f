using System.Diagnostics.Metrics;
using KontinuumP2P.Node.Admission;

namespace KontinuumP2P.Node.Hosting;

/// <summary>
/// The node's own instruments (meter <c>KontinuumP2P.Node</c>; the routing table is the DHT's
/// <c>kontinuum.dht.routing_table.size</c>): connected peers by admission
/// verdict, peers refused after a CRL, the CRL in force, our record's sequence and uptime. Read when observed.
/// </summary>
internal sealed class NodeMetrics : IDisposable
{
    public const string MeterName = "KontinuumP2P.Node";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _refused;

    public NodeMetrics(KontinuumNode node, IMeterFactory? factory)
    {
        _ownsMeter = factory is null;
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _refused = _meter.CreateCounter<long>("kontinuum.node.admission.refused", "{peer}", "Peers refused after having been judged otherwise (revocation)");
        _meter.CreateObservableGauge("kontinuum.node.peers", () => Verdicts(node), "{peer}", "Connected peers by admission verdict");
        _meter.CreateObservableGauge("kontinuum.node.crl.number", () => (long)(node.CurrentCrl?.Body.CrlNumber ?? 0), description: "Number of the CRL in force (0: none)");
        _meter.CreateObservableGauge("kontinuum.node.crl.stale", () => node.CrlIsStale ? 1 : 0, description: "1 when the CRL in force is past next_update");
        _meter.CreateObservableGauge("kontinuum.node.crl.fail_closed", () => node.CrlFailClosed ? 1 : 0,
            description: "1 when the CRL has been stale past the maximum staleness and new certificates are refused");
        _meter.CreateObservableGauge("kontinuum.node.record.sequence", () => (double)node.RecordSequence, description: "Sequence of our last signed node record");
        _meter.CreateObservableGauge("kontinuum.node.uptime", () => (node.Services.TimeProvider.GetUtcNow() - node.StartedAt).TotalSeconds, "s", "Seconds since start");
    }

    public void PeerRefused(AdmissionVerdict verdict) =>
        _refused.Add(1, new KeyValuePair<string, object?>("status", verdict.Status.ToString()));

    public void Dispose()
    {
        if (_ownsMeter) _meter.Dispose();
    }

    private static IEnumerable<Measurement<int>> Verdicts(KontinuumNode node)
    {
        if (node.Host is null) yield break;
        var peers = node.Host.Connections.Where(c => !c.IsClosed).Select(c => c.RemotePeer).Distinct().ToList();
        if (node.Admission is null)
        {
            yield return new Measurement<int>(peers.Count, new KeyValuePair<string, object?>("verdict", "open"));
            yield break;
        }
        foreach (var group in peers.GroupBy(p => node.Admission.GetVerdict(p).Status))
            yield return new Measurement<int>(group.Count(), new KeyValuePair<string, object?>("verdict", group.Key.ToString()));
    }
}
