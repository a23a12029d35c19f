using KontinuumP2P.Core.Resources;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Protocols;

namespace KontinuumP2P.Net.Tests.Hosting;

/// <summary>Issue #11 item 7 through a host: connection scopes per upgraded connection, protocol scopes across peers.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class HostResourceScopeTests
{
    [Test]
    public async Task A_protocol_scope_caps_its_streams_across_peers_and_everything_is_released_at_close(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var listener = await hosts.StartAsync(ct, o => new PeerHostOptions
        {
            Identity = o.Identity,
            Transports = o.Transports,
            ListenAddresses = o.ListenAddresses,
            InboundStreamLimits = o.InboundStreamLimits,
            ResourceLimits = new ResourceManagerOptions
            {
                Protocols = new Dictionary<string, ResourceLimits> { [EchoProtocol.Id] = new(Streams: 2, Memory: 1 << 20) },
            },
        });
        var (alice, bob) = (await hosts.StartAsync(ct), await hosts.StartAsync(ct));
        var scope = listener.Resources.Protocol(EchoProtocol.Id);
        await alice.DialAsync(TestHosts.AddressOf(listener), ct);
        await bob.DialAsync(TestHosts.AddressOf(listener), ct);

        var held = new List<Core.Network.IP2PStream>();
        for (var i = 0; i < 2; i++)
        {
            var stream = await alice.NewStreamAsync(listener.PeerId, [EchoProtocol.Id], ct);
            held.Add(stream);
            await stream.Output.WriteAsync(new byte[] { 1 }, ct);
            var echoed = await stream.Input.ReadAsync(ct);
            stream.Input.AdvanceTo(echoed.Buffer.End);
        }
        Assert.That(scope.Streams, Is.EqualTo(2));

        // Bob's stream negotiates, then is reset: the echo scope is full whoever asks.
        Assert.That(async () =>
        {
            await using var refused = await bob.NewStreamAsync(listener.PeerId, [EchoProtocol.Id], ct);
            await refused.Output.WriteAsync(new byte[] { 1 }, ct);
            var result = await refused.Input.ReadAsync(ct);
            if (result.IsCompleted && result.Buffer.IsEmpty) throw new IOException("closed without an echo");
        }, Throws.InstanceOf<IOException>());
        Assert.That(scope.Streams, Is.EqualTo(2));
        Assert.That(listener.Resources.PeerScopes, Is.EqualTo(2));

        foreach (var stream in held) await stream.DisposeAsync();
        await TestHosts.WaitUntilAsync(() => scope.Streams == 0, ct, 20_000);
        await alice.DisconnectAsync(listener.PeerId, ct);
        await bob.DisconnectAsync(listener.PeerId, ct);
        await TestHosts.WaitUntilAsync(() => listener.Resources.PeerScopes == 0 && listener.Resources.System.Streams == 0
            && listener.Resources.System.Memory == 0, ct, 20_000);
    }
}
