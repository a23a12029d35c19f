using System.Diagnostics.Metrics;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Network;

public sealed class MetricsTests
{
    [Test, CancelAfter(30_000)]
    public async Task Rejected_records_are_counted_by_reason_and_buckets_are_observable(CancellationToken cancellationToken)
    {
        using var factory = new ScopedMeterFactory();
        var measurements = new List<(string Name, long Value, string Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == factory) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            lock (measurements) measurements.Add((instrument.Name, value, string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}"))));
        });
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) =>
        {
            lock (measurements) measurements.Add((instrument.Name, value, string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}"))));
        });
        listener.Start();

        await using var dht = new SimulatedDht(seed: 9);
        await dht.AddNodesAsync(10);
        var endpoint = dht.Swarm.Join(TestPeers.Create(new Random(99)), DhtOptions.KontinuumProtocolId);
        var observed = new DhtNode(dht.Swarm.Join(TestPeers.Create(new Random(100)), DhtOptions.KontinuumProtocolId), SimulatedDht.DefaultOptions(), meterFactory: factory);
        await observed.StartAsync(cancellationToken);
        await observed.BootstrapAsync([dht.Swarm.Endpoint(dht.Nodes[0].LocalPeer).LocalAddresses[0].WithPeerId(dht.Nodes[0].LocalPeer)], cancellationToken);

        var key = PublicKeyValidator.KeyFor(dht.Nodes[1].LocalPeer);
        var wrongKey = dht.Nodes[2].LocalPeer.TryGetEncodedPublicKey()!;
        var put = new KadMessage(KadMessageType.PutValue, key, new DhtRecord(key, wrongKey, null), [], []);
        Assert.ThrowsAsync<StreamResetException>(async () => await endpoint.SendAsync(observed.LocalPeer, put, cancellationToken));
        listener.RecordObservableInstruments();
        await observed.DisposeAsync();

        lock (measurements)
        {
            Assert.That(measurements, Has.Some.Matches<(string Name, long Value, string Tags)>(m =>
                m.Name == "kontinuum.dht.records.rejected" && m.Value == 1 && m.Tags == "reason=key-mismatch"));
            var buckets = measurements.Where(m => m.Name == "kontinuum.dht.routing_table.size").ToList();
            Assert.That(buckets.Sum(m => m.Value), Is.EqualTo(observed.GetRoutingTable().Count).And.GreaterThan(0));
            Assert.That(measurements, Has.Some.Matches<(string Name, long Value, string Tags)>(m => m.Name == "kontinuum.dht.queries"));
        }
    }

    private sealed class ScopedMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters) meter.Dispose();
        }
    }
}
