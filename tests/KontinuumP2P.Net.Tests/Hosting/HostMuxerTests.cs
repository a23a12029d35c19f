using System.IO.Pipelines;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Net.Security;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Net.Tests.Hosting;

/// <summary><see cref="PeerHostOptions.Muxer"/> is what Noise advertises and what the upgrader accepts.</summary>
[CancelAfter(30_000)]
public sealed class HostMuxerTests
{
    private const string CustomId = "/kontinuum-test-mux/1.0.0";

    /// <summary>Yamux under another protocol id, counting the sessions it starts.</summary>
    private sealed class CountingMuxer(string id) : IStreamMuxerFactory
    {
        private readonly YamuxMuxerFactory _yamux = new(new YamuxOptions(), NullLoggerFactory.Instance, null);
        private int _created;

        public string ProtocolId => id;

        public int Created => Volatile.Read(ref _created);

        public IStreamMuxer Create(IDuplexPipe secured, bool isClient)
        {
            Interlocked.Increment(ref _created);
            return _yamux.Create(secured, isClient);
        }
    }

    private static Func<PeerHostOptions, PeerHostOptions> With(IStreamMuxerFactory muxer, NoiseOptions? noise = null) =>
        options => new PeerHostOptions
        {
            Identity = options.Identity,
            Transports = options.Transports,
            ListenAddresses = options.ListenAddresses,
            Muxer = muxer,
            NoiseOptions = noise,
        };

    private static async Task AssertPingWorksAsync(PeerHost dialer, PeerHost listener, CancellationToken ct)
    {
        var rtts = await PingProtocol.PingAsync(dialer, listener.PeerId, 1, ct);
        Assert.That(rtts, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task A_custom_muxer_is_negotiated_inside_the_Noise_handshake(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var listenerMuxer = new CountingMuxer(CustomId);
        var dialerMuxer = new CountingMuxer(CustomId);
        var listener = await hosts.StartAsync(ct, With(listenerMuxer));
        var dialer = await hosts.StartAsync(ct, With(dialerMuxer));
        await dialer.DialAsync(TestHosts.AddressOf(listener), ct);
        await AssertPingWorksAsync(dialer, listener, ct);
        Assert.That(dialerMuxer.Created, Is.EqualTo(1));
        Assert.That(listenerMuxer.Created, Is.EqualTo(1));
    }

    [Test]
    public async Task Without_inlined_negotiation_the_multistream_round_selects_the_custom_muxer(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var listenerMuxer = new CountingMuxer(CustomId);
        var dialerMuxer = new CountingMuxer(CustomId);
        var listener = await hosts.StartAsync(ct, With(listenerMuxer, new NoiseOptions { StreamMuxers = [] }));
        var dialer = await hosts.StartAsync(ct, With(dialerMuxer, new NoiseOptions { StreamMuxers = [] }));
        await dialer.DialAsync(TestHosts.AddressOf(listener), ct);
        await AssertPingWorksAsync(dialer, listener, ct);
        Assert.That(dialerMuxer.Created + listenerMuxer.Created, Is.EqualTo(2));
    }

    [Test]
    public async Task Tuned_Noise_options_still_advertise_the_hosts_muxer(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var listenerMuxer = new CountingMuxer(CustomId);
        var listener = await hosts.StartAsync(ct, With(listenerMuxer, new NoiseOptions { HandshakeTimeout = TimeSpan.FromSeconds(5) }));
        var dialer = await hosts.StartAsync(ct, With(new CountingMuxer(CustomId)));
        await dialer.DialAsync(TestHosts.AddressOf(listener), ct);
        await AssertPingWorksAsync(dialer, listener, ct);
        Assert.That(listenerMuxer.Created, Is.EqualTo(1));
    }

    [Test]
    public async Task A_host_with_another_muxer_is_refused_without_a_connection(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var listener = await hosts.StartAsync(ct, With(new CountingMuxer(CustomId)));
        var dialer = await hosts.StartAsync(ct); // default Yamux
        Assert.That(async () => await dialer.DialAsync(TestHosts.AddressOf(listener), ct), Throws.InstanceOf<Exception>());
        Assert.That(dialer.Connections, Is.Empty);
    }

    [Test]
    public void Noise_options_advertising_a_muxer_the_host_lacks_are_rejected_at_construction()
    {
        using var identity = KontinuumP2P.Core.Identity.Ed25519Identity.Generate();
        var options = new PeerHostOptions
        {
            Identity = identity,
            Transports = [new KontinuumP2P.Net.Transports.TcpTransport()],
            Muxer = new CountingMuxer(CustomId),
            NoiseOptions = new NoiseOptions { StreamMuxers = [YamuxMuxerFactory.Id, CustomId] },
        };
        var thrown = Assert.Throws<ArgumentException>(() => _ = new PeerHost(options));
        Assert.That(thrown!.Message, Does.Contain(YamuxMuxerFactory.Id));
    }
}
