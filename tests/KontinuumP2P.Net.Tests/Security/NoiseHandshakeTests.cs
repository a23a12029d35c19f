using System.Buffers;
using KontinuumP2P.Net.Security;

namespace KontinuumP2P.Net.Tests.Security;

public sealed class NoiseHandshakeTests
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(60);

    [Test]
    public async Task HandshakeAuthenticatesBothSidesAndAgreesOnYamux()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts();
        var (dialer, listener) = await hosts.ConnectAsync(hosts.ListenerIdentity.PeerId, cts.Token);

        Assert.That(dialer.RemotePeer, Is.EqualTo(hosts.ListenerIdentity.PeerId));
        Assert.That(listener.RemotePeer, Is.EqualTo(hosts.DialerIdentity.PeerId));
        Assert.That(dialer.RemotePublicKey.ToArray(), Is.EqualTo(hosts.ListenerIdentity.EncodedPublicKey));
        Assert.That(listener.RemotePublicKey.ToArray(), Is.EqualTo(hosts.DialerIdentity.EncodedPublicKey));
        Assert.That(dialer.NegotiatedMuxer, Is.EqualTo("/yamux/1.0.0"));
        Assert.That(listener.NegotiatedMuxer, Is.EqualTo("/yamux/1.0.0"));
        Assert.That(dialer.Transport, Is.SameAs(hosts.DialerRaw));
    }

    [Test]
    public async Task BulkDataBothWaysArrivesIntactAcrossFrameBoundaries()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts();
        var (dialer, listener) = await hosts.ConnectAsync(null, cts.Token);

        var random = new Random(20261123);
        var up = new byte[5 * 1024 * 1024 + 12345];
        var down = new byte[4 * 1024 * 1024 + 777];
        random.NextBytes(up);
        random.NextBytes(down);
        // Sizes around the 65519-byte frame plaintext limit, tiny writes and large multi-frame writes.
        int[] upSizes = [1, 65518, 65519, 65520, 131038, 131039, 3, 200_001, 17, 1_000_003];
        int[] downSizes = [65519 * 3 + 1, 5, 4096, 65535, 99_999, 1];

        var sendUp = NoiseTestHosts.SendAsync(dialer.Output, up, upSizes, cts.Token);
        var sendDown = NoiseTestHosts.SendAsync(listener.Output, down, downSizes, cts.Token);
        var receivedUp = NoiseTestHosts.ReceiveAllAsync(listener.Input, up.Length + 1, cts.Token);
        var receivedDown = NoiseTestHosts.ReceiveAllAsync(dialer.Input, down.Length + 1, cts.Token);
        await Task.WhenAll(sendUp, sendDown, receivedUp, receivedDown);

        Assert.That((await receivedUp).AsSpan().SequenceEqual(up), Is.True, "dialer → listener bytes differ");
        Assert.That((await receivedDown).AsSpan().SequenceEqual(down), Is.True, "listener → dialer bytes differ");
    }

    [Test]
    public async Task HandshakeStartsFromBytesAlreadyBufferedInTheRawReader()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts();
        // A previous protocol's message and the first Noise frame arrive together (as after a multistream echo).
        byte[] previous = [0x07, .. "/noise\n"u8];
        await hosts.DialerRaw.Output.WriteAsync(previous, cts.Token);
        var outbound = hosts.Dialer.SecureOutboundAsync(hosts.DialerRaw, hosts.ListenerIdentity.PeerId, cts.Token).AsTask();

        var input = hosts.ListenerRaw.Input;
        while (true)
        {
            var result = await input.ReadAsync(cts.Token);
            if (result.Buffer.Length > previous.Length)
            {
                Assert.That(result.Buffer.Slice(0, previous.Length).ToArray(), Is.EqualTo(previous));
                input.AdvanceTo(result.Buffer.GetPosition(previous.Length));
                break;
            }
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
        var listener = await hosts.Listener.SecureInboundAsync(hosts.ListenerRaw, cts.Token);
        var dialer = await outbound;
        Assert.That(listener.RemotePeer, Is.EqualTo(hosts.DialerIdentity.PeerId));
        await listener.DisposeAsync();
        await dialer.DisposeAsync();
    }

    [Test]
    public async Task NoAdvertisedMuxersOnBothSidesLeavesTheChoiceToMultistream()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var none = new NoiseOptions { StreamMuxers = [] };
        await using var hosts = new NoiseTestHosts(none, new NoiseOptions { StreamMuxers = [] });
        var (dialer, listener) = await hosts.ConnectAsync(null, cts.Token);
        Assert.That(dialer.NegotiatedMuxer, Is.Null);
        Assert.That(listener.NegotiatedMuxer, Is.Null);
    }

    [Test]
    public async Task EachSidePicksFromTheRemoteList()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts(
            new NoiseOptions { StreamMuxers = ["/mplex/6.7.0", "/yamux/1.0.0"] },
            new NoiseOptions { StreamMuxers = ["/yamux/1.0.0"] });
        var (dialer, listener) = await hosts.ConnectAsync(null, cts.Token);
        Assert.That(dialer.NegotiatedMuxer, Is.EqualTo("/yamux/1.0.0"));
        Assert.That(listener.NegotiatedMuxer, Is.EqualTo("/yamux/1.0.0"));
    }

    [Test]
    public async Task NoCommonMuxerFailsTheHandshake()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts(new NoiseOptions { StreamMuxers = ["/mplex/6.7.0"] });
        var inbound = hosts.Listener.SecureInboundAsync(hosts.ListenerRaw, cts.Token).AsTask();
        Assert.ThrowsAsync<HandshakeException>(async () => await hosts.Dialer.SecureOutboundAsync(hosts.DialerRaw, null, cts.Token));
        Assert.ThrowsAsync<HandshakeException>(async () => await inbound);
    }

    [Test]
    public async Task DisposeFlushesQueuedDataThenTheRemoteSeesEndOfStream()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts();
        var (dialer, listener) = await hosts.ConnectAsync(null, cts.Token);
        var data = new byte[300_000];
        new Random(5).NextBytes(data);
        var receiving = NoiseTestHosts.ReceiveAllAsync(listener.Input, data.Length + 1, cts.Token);
        await dialer.Output.WriteAsync(data, cts.Token);
        await dialer.DisposeAsync();
        Assert.That((await receiving).AsSpan().SequenceEqual(data), Is.True);
    }

    [Test]
    public async Task AbortCutsTheConnectionForTheRemote()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts();
        var (dialer, listener) = await hosts.ConnectAsync(null, cts.Token);
        dialer.Abort();
        Assert.ThrowsAsync<IOException>(async () => await NoiseTestHosts.ReceiveAllAsync(listener.Input, 1024, cts.Token));
        Assert.ThrowsAsync<IOException>(async () => await NoiseTestHosts.ReceiveAllAsync(dialer.Input, 1024, cts.Token));
    }
}
