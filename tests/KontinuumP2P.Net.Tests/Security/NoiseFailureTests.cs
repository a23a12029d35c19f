using System.Buffers;
using System.Buffers.Binary;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Security;
using KontinuumP2P.Net.Security.Noise;
using KontinuumP2P.Testing;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Net.Tests.Security;

/// <summary>Every handshake failure ends in <see cref="HandshakeException"/> with the raw connection aborted.</summary>
public sealed class NoiseFailureTests
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(30);

    [Test]
    public async Task IdentitySignatureOverAnotherStaticKeyIsRefused()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts();
        using var peer = new ScriptedNoisePeer(hosts.ListenerRaw, initiator: false);
        using var otherStatic = X25519KeyPair.Generate();
        var forged = NoisePayload.Encode(hosts.ListenerIdentity, otherStatic.PublicKey, ["/yamux/1.0.0"]);
        var responder = peer.RunResponderAsync(forged, cts.Token);

        var error = Assert.ThrowsAsync<HandshakeException>(async () =>
            await hosts.Dialer.SecureOutboundAsync(hosts.DialerRaw, null, cts.Token));
        Assert.That(error!.Message, Does.Contain("signature"));
        Assert.That(await peer.InputEndsWithErrorAsync(cts.Token), Is.True, "raw connection must be aborted");
        Assert.CatchAsync(async () => await responder);
    }

    [Test]
    public async Task WrongExpectedPeerIdIsRefused()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts();
        using var stranger = Ed25519Identity.Generate();
        var inbound = hosts.Listener.SecureInboundAsync(hosts.ListenerRaw, cts.Token).AsTask();
        var error = Assert.ThrowsAsync<HandshakeException>(async () =>
            await hosts.Dialer.SecureOutboundAsync(hosts.DialerRaw, stranger.PeerId, cts.Token));
        Assert.That(error!.Message, Does.Contain(stranger.PeerId.ToString()));
        Assert.ThrowsAsync<HandshakeException>(async () => await inbound);
    }

    [Test]
    public async Task DialingSelfIsRefused()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var self = Ed25519Identity.Generate();
        await using var hosts = new NoiseTestHosts(listenerIdentity: self);
        // Same identity on both ends, with distinct Noise static keys.
        using var selfDialer = new NoiseSecurity(self);
        var inbound = hosts.Listener.SecureInboundAsync(hosts.ListenerRaw, cts.Token).AsTask();
        var error = Assert.ThrowsAsync<HandshakeException>(async () =>
            await selfDialer.SecureOutboundAsync(hosts.DialerRaw, null, cts.Token));
        Assert.That(error!.Message, Does.Contain("cannot dial self"));
        Assert.ThrowsAsync<HandshakeException>(async () => await inbound);
    }

    [Test]
    public async Task TruncatedHandshakeFrameFails()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts();
        using var peer = new ScriptedNoisePeer(hosts.DialerRaw, initiator: true);
        var inbound = hosts.Listener.SecureInboundAsync(hosts.ListenerRaw, cts.Token).AsTask();
        await peer.WriteRawAsync(new byte[] { 0x00, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, cts.Token);
        await peer.RawOutput.CompleteAsync();
        var error = Assert.ThrowsAsync<HandshakeException>(async () => await inbound);
        Assert.That(error!.Message, Does.Contain("closed"));
    }

    [Test]
    public async Task FirstMessageShorterThanAnEphemeralKeyFails()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts();
        using var peer = new ScriptedNoisePeer(hosts.DialerRaw, initiator: true);
        var inbound = hosts.Listener.SecureInboundAsync(hosts.ListenerRaw, cts.Token).AsTask();
        await peer.WriteFrameAsync(new byte[5], cts.Token);
        Assert.ThrowsAsync<HandshakeException>(async () => await inbound);
        Assert.That(await peer.InputEndsWithErrorAsync(cts.Token), Is.True, "raw connection must be aborted");
    }

    [Test]
    public async Task MaximumSizeGarbageFrameFails()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts();
        using var peer = new ScriptedNoisePeer(hosts.ListenerRaw, initiator: false);
        var outbound = hosts.Dialer.SecureOutboundAsync(hosts.DialerRaw, null, cts.Token).AsTask();
        await peer.ReadFrameAsync(cts.Token);
        var garbage = new byte[NoiseFraming.MaxMessageLength];
        new Random(3).NextBytes(garbage);
        await peer.WriteFrameAsync(garbage, cts.Token);
        Assert.ThrowsAsync<HandshakeException>(async () => await outbound);
        Assert.That(await peer.InputEndsWithErrorAsync(cts.Token), Is.True, "raw connection must be aborted");
    }

    [Test]
    public async Task StalledHandshakeTimesOut()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var clock = new FakeTimeProvider();
        await using var hosts = new NoiseTestHosts(listenerOptions: new NoiseOptions { TimeProvider = clock });
        using var peer = new ScriptedNoisePeer(hosts.DialerRaw, initiator: true);
        var inbound = hosts.Listener.SecureInboundAsync(hosts.ListenerRaw, cts.Token).AsTask();
        // A few bytes of message 1 (an ephemeral key) arrive, then nothing for 9 s.
        var ephemeral = X25519KeyPair.Generate().PublicKey;
        await peer.WriteRawAsync(new byte[] { 0x00, 0x20, ephemeral[0], ephemeral[1], ephemeral[2] }, cts.Token);
        clock.Advance(TimeSpan.FromSeconds(9));
        // Still alive at 9 s: the rest of message 1 is answered with message 2 (no sleeping to "see" a timeout).
        await peer.WriteRawAsync(ephemeral.AsMemory(3), cts.Token);
        Assert.That(await peer.ReadFrameAsync(cts.Token), Is.Not.Empty, "must not time out before 10 s");
        Assert.That(inbound.IsCompleted, Is.False);
        // Then the stall: message 3 never comes, and the whole-handshake bound (10 s) passes.
        clock.Advance(TimeSpan.FromSeconds(2));
        var error = Assert.ThrowsAsync<HandshakeException>(async () => await inbound);
        Assert.That(error!.Message, Does.Contain("timed out"));
        Assert.That(await peer.InputEndsWithErrorAsync(cts.Token), Is.True, "raw connection must be aborted");
    }

    [Test]
    public async Task CallerCancellationAbortsWithOperationCanceled()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var hosts = new NoiseTestHosts();
        using var peer = new ScriptedNoisePeer(hosts.DialerRaw, initiator: true);
        using var caller = new CancellationTokenSource();
        var inbound = hosts.Listener.SecureInboundAsync(hosts.ListenerRaw, caller.Token).AsTask();
        await caller.CancelAsync();
        Assert.CatchAsync<OperationCanceledException>(async () => await inbound);
        Assert.That(await peer.InputEndsWithErrorAsync(cts.Token), Is.True, "raw connection must be aborted");
    }

    [Test]
    public async Task TamperedTransportFrameAbortsTheConnection()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var (peer, connection, hosts) = await ConnectScriptedInitiatorAsync(cts.Token);
        await using var _ = hosts;
        using var scripted = peer;
        var good = peer.SealFrame("hello"u8);
        var bad = peer.SealFrame("world"u8);
        bad[4] ^= 0x01;
        await peer.WriteRawAsync(good, cts.Token);
        var first = await connection.Input.ReadAsync(cts.Token);
        Assert.That(first.Buffer.ToArray(), Is.EqualTo("hello"u8.ToArray()));
        connection.Input.AdvanceTo(first.Buffer.End);

        await peer.WriteRawAsync(bad, cts.Token);
        Assert.CatchAsync(async () => await NoiseTestHosts.ReceiveAllAsync(connection.Input, 1024, cts.Token));
        Assert.That(await peer.InputEndsWithErrorAsync(cts.Token), Is.True, "raw connection must be aborted");
    }

    [Test]
    public async Task TransportFrameShorterThanATagAbortsTheConnection()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var (peer, connection, hosts) = await ConnectScriptedInitiatorAsync(cts.Token);
        await using var _ = hosts;
        using var scripted = peer;
        byte[] shortFrame = [0x00, 0x0f, .. new byte[15]];
        await peer.WriteRawAsync(shortFrame, cts.Token);
        Assert.CatchAsync(async () => await NoiseTestHosts.ReceiveAllAsync(connection.Input, 1024, cts.Token));
        Assert.That(await peer.InputEndsWithErrorAsync(cts.Token), Is.True, "raw connection must be aborted");
    }

    [Test]
    public async Task TransportStreamEndingInsideAFrameFails()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var (peer, connection, hosts) = await ConnectScriptedInitiatorAsync(cts.Token);
        await using var _ = hosts;
        using var scripted = peer;
        var frame = peer.SealFrame(new byte[100]);
        await peer.WriteRawAsync(frame.AsMemory(0, 60), cts.Token);
        await peer.RawOutput.CompleteAsync();
        Assert.ThrowsAsync<InvalidDataException>(async () => await NoiseTestHosts.ReceiveAllAsync(connection.Input, 1024, cts.Token));
    }

    [Test]
    public async Task EmptyTransportFrameIsAcceptedAndRemoteEndCompletesInput()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var (peer, connection, hosts) = await ConnectScriptedInitiatorAsync(cts.Token);
        await using var _ = hosts;
        using var scripted = peer;
        var empty = peer.SealFrame(ReadOnlySpan<byte>.Empty);
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(empty), Is.EqualTo(16));
        await peer.WriteRawAsync(empty, cts.Token);
        await peer.WriteRawAsync(peer.SealFrame("after"u8), cts.Token);
        await peer.RawOutput.CompleteAsync();
        var received = await NoiseTestHosts.ReceiveAllAsync(connection.Input, 1024, cts.Token);
        Assert.That(received, Is.EqualTo("after"u8.ToArray()));
    }

    // A scripted initiator that completes a correct handshake with the real responder of a fresh host pair.
    private static async Task<(ScriptedNoisePeer Peer, ISecureConnection Connection, NoiseTestHosts Hosts)> ConnectScriptedInitiatorAsync(
        CancellationToken cancellationToken)
    {
        var hosts = new NoiseTestHosts();
        var peer = new ScriptedNoisePeer(hosts.DialerRaw, initiator: true);
        var inbound = hosts.Listener.SecureInboundAsync(hosts.ListenerRaw, cancellationToken).AsTask();
        await peer.RunInitiatorAsync(peer.PayloadFor(hosts.DialerIdentity), cancellationToken);
        var connection = await inbound;
        Assert.That(connection.RemotePeer, Is.EqualTo(hosts.DialerIdentity.PeerId));
        return (peer, connection, hosts);
    }
}
