using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Resources;

namespace KontinuumP2P.Core.Tests;

[TestFixture]
public sealed class ResourceManagerTests
{
    [Test]
    public void Reservations_count_in_every_ancestor_and_the_full_scope_is_named()
    {
        using var manager = new ResourceManager(new ResourceManagerOptions
        {
            System = new(Streams: 5, Memory: 1000),
            Peer = new(Streams: 3, Memory: 600),
            Connection = new(Streams: 2, Memory: 500),
        });
        var (alice, bob) = (RandomPeer(), RandomPeer());
        using var a1 = manager.OpenConnection(alice);
        using var a2 = manager.OpenConnection(alice);
        using var b1 = manager.OpenConnection(bob);

        Assert.That(a1.TryAddStream(), Is.Null);
        Assert.That(a1.TryAddStream(), Is.Null);
        Assert.That(a1.TryAddStream(), Is.EqualTo("connection-streams"));
        Assert.That(a2.TryAddStream(), Is.Null);
        Assert.That(a2.TryAddStream(), Is.EqualTo("peer-streams"), "alice's two connections share her peer scope");
        Assert.That(b1.TryAddStream(), Is.Null);
        Assert.That(b1.TryAddStream(), Is.Null);
        Assert.That(manager.Protocol("/x").TryAddStream(), Is.EqualTo("system-streams"));

        Assert.That(a1.TryReserveMemory(500), Is.Null);
        Assert.That(a1.TryReserveMemory(1), Is.EqualTo("connection-memory"));
        Assert.That(a2.TryReserveMemory(101), Is.EqualTo("peer-memory"));
        Assert.That(b1.TryReserveMemory(450), Is.Null);
        Assert.That(a2.TryReserveMemory(100), Is.EqualTo("system-memory"));
        Assert.That(manager.System.Memory, Is.EqualTo(950));
        Assert.That(manager.PeerUsage(alice), Is.EqualTo(new ResourceLimits(3, 500)));
    }

    [Test]
    public void Closing_a_connection_releases_what_it_held_and_forgets_the_peer()
    {
        using var manager = new ResourceManager();
        var peer = RandomPeer();
        var connection = manager.OpenConnection(peer);
        connection.TryAddStream();
        connection.TryReserveMemory(4096);
        Assert.That(manager.PeerScopes, Is.EqualTo(1));
        connection.Dispose();
        connection.Dispose();
        // A late release after the close (a stream noticing its end) cannot drive counts negative.
        connection.ReleaseMemory(4096);
        connection.RemoveStream();
        Assert.That(manager.System.Streams, Is.Zero);
        Assert.That(manager.System.Memory, Is.Zero);
        Assert.That(manager.PeerScopes, Is.Zero);
        Assert.That(manager.PeerUsage(peer), Is.EqualTo(default(ResourceLimits)));
    }

    [Test]
    public void Refusals_are_counted_by_reason_through_the_meter_factory()
    {
        using var factory = new TestMeterFactory();
        using var listener = new MeterListener();
        var refused = new List<string>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ResourceManager.MeterName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) =>
        {
            if (instrument.Name != "kontinuum.resources.refused") return;
            foreach (var tag in tags) if (tag.Key == "reason") refused.Add((string)tag.Value!);
        });
        listener.Start();
        using var manager = new ResourceManager(new ResourceManagerOptions { Connection = new(Streams: 1, Memory: 10) }, factory);
        using var connection = manager.OpenConnection(RandomPeer());
        connection.TryAddStream();
        connection.TryAddStream();
        connection.TryReserveMemory(11);
        Assert.That(refused, Is.EqualTo(new[] { "connection-streams", "connection-memory" }));
    }

    [Test]
    public void Protocol_scopes_are_bounded()
    {
        using var manager = new ResourceManager();
        for (var i = 0; i < ResourceManager.MaxProtocolScopes + 100; i++) manager.Protocol($"/p/{i}");
        Assert.That(manager.Protocol("/p/999999").Name, Is.EqualTo("other"));
    }

    private static PeerId RandomPeer()
    {
        var bytes = new byte[38];
        bytes[1] = 36;
        bytes[2] = 0x08;
        bytes[3] = 0x01;
        bytes[4] = 0x12;
        bytes[5] = 0x20;
        RandomNumberGenerator.Fill(bytes.AsSpan(6));
        return PeerId.FromBytes(bytes);
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, this);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters) meter.Dispose();
        }
    }
}
