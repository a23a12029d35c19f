using System.Security.Cryptography;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Testing.JsHarness;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Interop.Tests;

/// <summary>Who opens the connection in an interop test.</summary>
public enum DialDirection
{
    /// <summary>The js peer dials our host.</summary>
    JsDialsUs,
    /// <summary>Our host dials the js peer.</summary>
    WeDialJs,
}

/// <summary>Our <see cref="PeerHost"/> on TCP loopback (127.0.0.1 and ::1) serving echo, plus helpers the interop tests share.</summary>
public sealed class InteropHost : IAsyncDisposable
{
    private const int EchoChunk = 64 * 1024;
    private readonly Ed25519Identity _identity;

    private InteropHost(Ed25519Identity identity, PeerHost host)
    {
        _identity = identity;
        Host = host;
    }

    /// <summary>The host under test.</summary>
    public PeerHost Host { get; }

    /// <summary>Starts a host listening on both loopback families with the echo protocol served.</summary>
    public static async Task<InteropHost> StartAsync(CancellationToken cancellationToken)
    {
        var identity = Ed25519Identity.Generate();
        var host = new PeerHost(new PeerHostOptions
        {
            Identity = identity,
            Transports = [new TcpTransport()],
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"), Multiaddr.Parse("/ip6/::1/tcp/0")],
            // js opens 100 concurrent echo streams on one connection.
            InboundStreamLimits = new Dictionary<string, int> { [EchoProtocol.Id] = 256 },
        });
        host.SetHandler(EchoProtocol.Id, new EchoProtocol());
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch
        {
            await host.DisposeAsync();
            identity.Dispose();
            throw;
        }
        return new InteropHost(identity, host);
    }

    /// <summary>Our listen address of a family, with <c>/p2p/</c>, for js to dial.</summary>
    public string AddressFor(string familyPrefix) =>
        Host.ListenAddresses.Select(a => a.WithPeerId(Host.PeerId).ToString())
            .First(a => a.StartsWith(familyPrefix, StringComparison.Ordinal));

    /// <summary>Connects the two sides in the given direction over the given family; returns the js peer's id.</summary>
    public async Task<PeerId> ConnectAsync(JsPeer js, DialDirection direction, string familyPrefix,
        CancellationToken cancellationToken)
    {
        var jsPeer = PeerId.Parse(js.PeerId);
        if (direction == DialDirection.WeDialJs)
        {
            var connection = await Host.DialAsync(Multiaddr.Parse(js.AddressFor(familyPrefix)), cancellationToken);
            Assert.That(connection.RemotePeer, Is.EqualTo(jsPeer));
            // Our upgrade can finish before js's: wait until js has the connection too.
            await js.WaitForEventAsync("connection:open", e => e.GetProperty("peerId").GetString() == Host.PeerId.ToString(),
                TimeSpan.FromSeconds(15), cancellationToken);
        }
        else
        {
            var connected = NextEvent(h => Host.PeerConnected += h, jsPeer);
            var connection = await js.DialAsync(AddressFor(familyPrefix), cancellationToken);
            Assert.That(connection.PeerId, Is.EqualTo(Host.PeerId.ToString()));
            // js's upgrade can finish before ours: wait until our host has the connection too.
            if (!Host.Connections.Any(c => c.RemotePeer == jsPeer))
                await connected.WaitAsync(TimeSpan.FromSeconds(15), cancellationToken);
        }
        return jsPeer;
    }

    /// <summary>Completes when the event <paramref name="subscribe"/> hooks fires for <paramref name="peer"/> (call before acting).</summary>
    public static Task<PeerEventArgs> NextEvent(Action<EventHandler<PeerEventArgs>> subscribe, PeerId peer)
    {
        var fired = new TaskCompletionSource<PeerEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        subscribe((_, e) =>
        {
            if (e.Peer == peer) fired.TrySetResult(e);
        });
        return fired.Task;
    }

    /// <summary>Opens a stream to js's echo, sends <paramref name="size"/> random bytes and checks every byte returned.</summary>
    public async Task EchoThroughJsAsync(PeerId jsPeer, int size, CancellationToken cancellationToken)
    {
        var data = RandomNumberGenerator.GetBytes(size);
        await using var stream = await Host.NewStreamAsync(jsPeer, [EchoProtocol.Id], cancellationToken);
        await Task.WhenAll(WriteAllAsync(stream, data, cancellationToken), ReadAndCheckAsync(stream, data, cancellationToken));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        _identity.Dispose();
    }

    private static async Task WriteAllAsync(IP2PStream stream, byte[] data, CancellationToken cancellationToken)
    {
        for (var offset = 0; offset < data.Length; offset += EchoChunk)
            await stream.Output.WriteAsync(data.AsMemory(offset, Math.Min(EchoChunk, data.Length - offset)), cancellationToken);
        await stream.Output.CompleteAsync();
    }

    private static async Task ReadAndCheckAsync(IP2PStream stream, byte[] data, CancellationToken cancellationToken)
    {
        var received = 0;
        while (true)
        {
            var result = await stream.Input.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                if (received + segment.Length > data.Length)
                    throw new AssertionException($"js echoed more than the {data.Length} bytes sent");
                if (!segment.Span.SequenceEqual(data.AsSpan(received, segment.Length)))
                    throw new AssertionException($"js echoed different bytes near offset {received}");
                received += segment.Length;
            }
            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) break;
        }
        if (received != data.Length) throw new AssertionException($"js echoed {received} of {data.Length} bytes");
    }
}
