using System.Diagnostics.Metrics;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Protocols;

namespace KontinuumP2P.Net.Tests.Hosting;

[TestFixture]
[CancelAfter(20_000)]
public sealed class HostMetricsTests
{
    [Test]
    public async Task Connections_streams_and_bytes_are_measured_on_the_hosts_own_meter(CancellationToken ct)
    {
        using var factory = new RecordingMeterFactory();
        using var listener = new MeterListener();
        var totals = new Dictionary<string, long>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (factory.Created.Contains(instrument.Meter)) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var direction = "";
            foreach (var tag in tags) if (tag.Key == "direction") direction = "/" + tag.Value;
            lock (totals)
            {
                var key = instrument.Name + direction;
                totals[key] = instrument is ObservableCounter<long> ? value : totals.GetValueOrDefault(key) + value;
            }
        });
        listener.Start();

        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var server = await hosts.StartAsync(ct);
        var client = await hosts.StartAsync(ct, o => new PeerHostOptions
        {
            Identity = o.Identity,
            Transports = o.Transports,
            ListenAddresses = o.ListenAddresses,
            MeterFactory = factory,
        });
        var remote = (await client.DialAsync(TestHosts.AddressOf(server), ct)).RemotePeer;
        // Two pings, two outbound streams of our own: identify's stream runs in the background and may not have opened yet.
        await PingProtocol.PingAsync(client, remote, 1, ct);
        await PingProtocol.PingAsync(client, remote, 1, ct);
        listener.RecordObservableInstruments();

        lock (totals)
        {
            Assert.That(totals.GetValueOrDefault("kontinuum.net.connections.opened/outbound"), Is.EqualTo(1));
            Assert.That(totals.GetValueOrDefault("kontinuum.net.connections.active/outbound"), Is.EqualTo(1));
            Assert.That(totals.GetValueOrDefault("kontinuum.net.streams.opened/outbound"), Is.GreaterThanOrEqualTo(2));
            Assert.That(totals.GetValueOrDefault("kontinuum.net.bytes.sent"), Is.GreaterThan(100));
            Assert.That(totals.GetValueOrDefault("kontinuum.net.bytes.received"), Is.GreaterThan(100));
        }
        await client.DisconnectAsync(server.PeerId, ct);
        lock (totals) Assert.That(totals.GetValueOrDefault("kontinuum.net.connections.active/outbound"), Is.Zero);
    }

    private sealed class RecordingMeterFactory : IMeterFactory
    {
        public List<Meter> Created { get; } = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            lock (Created) Created.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in Created) meter.Dispose();
        }
    }
}
