using System.Buffers;
using System.Net.Sockets;
using System.Text;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Protocols;

namespace KontinuumP2P.Net.Tests.Hosting;

/// <summary>
/// Issue #11: a slowloris Noise handshake. The peer completes multistream-select for <c>/noise</c> at once, then
/// trickles the first Noise message one byte every 100 ms: the bytes keep arriving, but the handshake timeout is a
/// deadline for the whole handshake, not an idle timer, so the host still cuts it — and serves an honest peer meanwhile.
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class SlowlorisHandshakeTests
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(1);

    [Test]
    public async Task A_trickled_noise_handshake_is_cut_by_the_handshake_deadline(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var target = await hosts.StartAsync(ct, o => new PeerHostOptions
        {
            Identity = o.Identity,
            Transports = o.Transports,
            ListenAddresses = o.ListenAddresses,
            InboundStreamLimits = o.InboundStreamLimits,
            HandshakeTimeout = HandshakeTimeout,
        });
        target.SetHandler(EchoProtocol.Id, new EchoProtocol());
        var honest = await hosts.StartAsync(ct);

        using var slow = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await slow.ConnectAsync(target.ListenAddresses[0].ToTcpEndPoint()!, ct);
        await slow.SendAsync(Prefixed("/multistream/1.0.0\n").Concat(Prefixed("/noise\n")).ToArray(), SocketFlags.None, ct);
        // Both lines echoed: the host is now inside the Noise handshake.
        var echo = Prefixed("/multistream/1.0.0\n").Concat(Prefixed("/noise\n")).ToArray();
        var received = new byte[echo.Length];
        for (var got = 0; got < echo.Length;)
        {
            var n = await slow.ReceiveAsync(received.AsMemory(got), SocketFlags.None, ct);
            Assert.That(n, Is.Positive, "the host answered the negotiation");
            got += n;
        }
        Assert.That(received, Is.EqualTo(echo));

        var started = Environment.TickCount64;
        var closed = WaitClosedAsync(slow, ct);
        // A Noise message declaring 32 bytes, then one byte per 100 ms: 3.3 s to finish, three times the deadline.
        byte[] message = [0x00, 0x20, .. new byte[32]];
        var sent = 0;
        var honestServed = false;
        for (; sent < message.Length && !closed.IsCompleted; sent++)
        {
            try
            {
                await slow.SendAsync(message.AsMemory(sent, 1), SocketFlags.None, ct);
            }
            catch (SocketException)
            {
                break;
            }
            if (!honestServed)
            {
                // While the slow handshake is pending, an honest peer connects and is answered.
                await EchoAsync(honest, target, ct);
                honestServed = true;
            }
            // The hostile peer's pacing, not a wait for anything.
            await Task.WhenAny(closed, Task.Delay(100, ct));
        }
        await closed.WaitAsync(TimeSpan.FromSeconds(30), ct);
        var waited = Environment.TickCount64 - started;
        TestContext.Out.WriteLine($"trickled Noise handshake: {sent} of {message.Length} bytes sent, cut after {waited} ms (deadline {HandshakeTimeout.TotalMilliseconds} ms)");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(honestServed, Is.True);
            Assert.That(sent, Is.LessThan(message.Length), "cut before the message could finish");
            Assert.That(waited, Is.LessThan(message.Length * 100), "a byte every 100 ms did not keep the handshake alive");
        }
        await TestHosts.WaitUntilAsync(() => target.Connections.Count == 1, ct, 20_000);
        await EchoAsync(honest, target, ct);
    }

    private static byte[] Prefixed(string line) => [(byte)Encoding.UTF8.GetByteCount(line), .. Encoding.UTF8.GetBytes(line)];

    private static async Task WaitClosedAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[256];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, ct) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
    }

    private static async Task EchoAsync(PeerHost honest, PeerHost target, CancellationToken ct)
    {
        await honest.DialAsync(TestHosts.AddressOf(target), ct);
        await using var stream = await honest.NewStreamAsync(target.PeerId, [EchoProtocol.Id], ct);
        await stream.Output.WriteAsync("honest"u8.ToArray(), ct);
        var result = await stream.Input.ReadAtLeastAsync(6, ct);
        Assert.That(result.Buffer.Slice(0, 6).ToArray(), Is.EqualTo("honest"u8.ToArray()));
        stream.Input.AdvanceTo(result.Buffer.End);
    }
}
