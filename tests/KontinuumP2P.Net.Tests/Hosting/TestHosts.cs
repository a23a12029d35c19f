using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Net.Tests.Hosting;

/// <summary>Where test hosts listen.</summary>
public enum TestNetwork
{
    Tcp4,
    Tcp6,
    Memory,
}

/// <summary>Builds real hosts (Noise + Yamux) for tests and disposes them with their identities.</summary>
internal sealed class TestHosts : IAsyncDisposable
{
    private readonly List<PeerHost> _hosts = [];
    private readonly List<Ed25519Identity> _identities = [];
    private readonly MemoryNetwork _memory = new();
    private int _next;

    public TestHosts(TestNetwork network)
    {
        Network = network;
        if (network == TestNetwork.Tcp6 && !System.Net.Sockets.Socket.OSSupportsIPv6) Assert.Ignore("no IPv6 here");
    }

    public TestNetwork Network { get; }

    public async Task<PeerHost> StartAsync(CancellationToken ct, Func<PeerHostOptions, PeerHostOptions>? configure = null)
    {
        var identity = Ed25519Identity.Generate();
        _identities.Add(identity);
        var listen = Network switch
        {
            TestNetwork.Tcp4 => Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"),
            TestNetwork.Tcp6 => Multiaddr.Parse("/ip6/::1/tcp/0"),
            _ => Multiaddr.Parse($"/memory/host-{Interlocked.Increment(ref _next)}"),
        };
        ITransport transport = Network == TestNetwork.Memory ? new MemoryTransport(_memory) : new TcpTransport();
        var options = new PeerHostOptions
        {
            Identity = identity,
            Transports = [transport],
            ListenAddresses = [listen],
            // The load test opens 100 echo streams at once; js's default cap of 32 would reset most of them.
            InboundStreamLimits = new Dictionary<string, int> { [EchoProtocol.Id] = 256 },
        };
        if (configure is not null) options = configure(options);
        var host = new PeerHost(options);
        _hosts.Add(host);
        host.SetHandler(EchoProtocol.Id, new EchoProtocol());
        await host.StartAsync(ct);
        return host;
    }

    /// <summary>Two started hosts, the first connected to the second.</summary>
    public async Task<(PeerHost Dialer, PeerHost Listener, IConnection Connection)> ConnectedPairAsync(CancellationToken ct)
    {
        var listener = await StartAsync(ct);
        var dialer = await StartAsync(ct);
        var connection = await dialer.DialAsync(AddressOf(listener), ct);
        return (dialer, listener, connection);
    }

    public static Multiaddr AddressOf(PeerHost host) => host.ListenAddresses[0].WithPeerId(host.PeerId);

    public static async Task WaitUntilAsync(Func<bool> condition, CancellationToken ct, int timeoutMs = 5000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline) Assert.Fail("condition not met in time");
            await Task.Delay(20, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts) await host.DisposeAsync();
        foreach (var identity in _identities) identity.Dispose();
    }
}
