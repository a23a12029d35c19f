using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Security;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Net.Tests.Security;

/// <summary>The Noise layer over real loopback sockets (the host's TCP transport).</summary>
public sealed class NoiseOverTcpTests
{
    [Test]
    public async Task HandshakeAndBulkDataBothWaysOverLoopbackTcp()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var dialerIdentity = Ed25519Identity.Generate();
        using var listenerIdentity = Ed25519Identity.Generate();
        using var dialerNoise = new NoiseSecurity(dialerIdentity);
        using var listenerNoise = new NoiseSecurity(listenerIdentity);
        var transport = new TcpTransport();
        await using var tcpListener = await transport.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"), cts.Token);

        var accepting = Task.Run(async () =>
            await listenerNoise.SecureInboundAsync(await tcpListener.AcceptAsync(cts.Token), cts.Token), cts.Token);
        var dialedRaw = await transport.DialAsync(tcpListener.ListenAddress, cts.Token);
        await using var dialer = await dialerNoise.SecureOutboundAsync(dialedRaw, listenerIdentity.PeerId, cts.Token);
        await using var listener = await accepting;
        Assert.That(listener.RemotePeer, Is.EqualTo(dialerIdentity.PeerId));

        var up = new byte[6 * 1024 * 1024 + 3];
        var down = new byte[3 * 1024 * 1024 + 65519];
        new Random(1).NextBytes(up);
        new Random(2).NextBytes(down);
        int[] sizes = [65519, 1, 65520, 250_000, 7];
        var receivedUp = NoiseTestHosts.ReceiveAllAsync(listener.Input, up.Length + 1, cts.Token);
        var receivedDown = NoiseTestHosts.ReceiveAllAsync(dialer.Input, down.Length + 1, cts.Token);
        await Task.WhenAll(
            NoiseTestHosts.SendAsync(dialer.Output, up, sizes, cts.Token),
            NoiseTestHosts.SendAsync(listener.Output, down, sizes, cts.Token),
            receivedUp, receivedDown);
        Assert.That((await receivedUp).AsSpan().SequenceEqual(up), Is.True);
        Assert.That((await receivedDown).AsSpan().SequenceEqual(down), Is.True);
    }
}
