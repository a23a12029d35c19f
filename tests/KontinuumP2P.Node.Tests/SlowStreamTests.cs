using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Net.Security;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Testing;
using static KontinuumP2P.Testing.HostilePeer;

namespace KontinuumP2P.Node.Tests;

/// <summary>
/// Issue #11: slowloris after the handshake. A scripted peer negotiates kad, cert, mailbox and identify push on a
/// node, then on each stream declares a 1,000-byte message and sends one byte of it every 100 ms. Every stream must be
/// reset by its own deadline (kad idle 1 s, certificate offer 1 s, mailbox open 1 s, identify 10 s) although bytes keep
/// arriving; the peer's scope holds no stream and nothing but the connection's Noise buffers afterwards, and an honest client
/// is answered meanwhile.
/// </summary>
[TestFixture]
[CancelAfter(90_000)]
public sealed class SlowStreamTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan StreamCloseTimeout = TimeSpan.FromSeconds(2);
    private const int MaxTicks = 300;

    private string _directory = null!;

    [SetUp]
    public void SetUp() => _directory = Directory.CreateTempSubdirectory("kp-slow-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Test]
    public async Task Trickled_messages_on_kad_cert_mailbox_and_identify_are_reset_by_their_deadlines(CancellationToken ct)
    {
        using var authority = new DevnetAuthority("devnet", 1, 1, TimeProvider.System);
        using var serverKey = Ed25519Identity.Generate();
        using var clientKey = Ed25519Identity.Generate();
        await using var server = await KontinuumNode.StartAsync(new KontinuumNodeOptions
        {
            Identity = serverKey,
            Network = authority.Network,
            Certificate = authority.IssueCertificate(serverKey, TimeSpan.FromDays(1), ["dht", "mailbox"]),
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            CertificateOfferTimeout = Deadline,
            // The identify request and certificate push the host opens to the peer are half-closed streams the
            // hostile peer never closes: a short close timeout resets them so the scope can drain in this test.
            Limits = new NodeLimits { StreamCloseTimeout = StreamCloseTimeout },
            ConfigureDht = d => d with { InboundIdleTimeout = Deadline },
            Mailbox = new MailboxServerOptions
            {
                Store = new MailboxStoreOptions { DatabasePath = Path.Combine(_directory, "mailbox.db"), Role = MailboxRole.Replica },
                OpenTimeout = Deadline,
            },
        }, ct);
        var host = (PeerHost)server.Host!;
        var address = server.ListenAddresses[0].WithPeerId(server.PeerId);
        string[] protocols = [authority.Network.KadProtocolId, authority.Network.CertificateProtocolId, MailboxProtocol.ProtocolId, IdentifyProtocol.PushId];

        await using var hostile = await HostilePeer.ConnectAsync(address, ct);
        var ended = new ConcurrentDictionary<uint, TaskCompletionSource<long>>();
        var echoed = new ConcurrentDictionary<uint, StringBuilder>();
        var ids = protocols.Select((_, i) => 1 + 2 * (uint)i).ToArray();
        foreach (var id in ids)
        {
            ended[id] = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            echoed[id] = new StringBuilder();
        }
        var started = Environment.TickCount64;
        using var stopReading = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var reader = Task.Run(async () =>
        {
            while (await hostile.ReadFrameAsync(stopReading.Token) is { } frame)
            {
                if (!ended.TryGetValue(frame.StreamId, out var end)) continue;
                if (frame.Payload.Length > 0) lock (echoed[frame.StreamId]) echoed[frame.StreamId].Append(Encoding.UTF8.GetString(frame.Payload));
                if ((frame.Flags & (Rst | Fin)) != 0) end.TrySetResult(Environment.TickCount64 - started);
            }
        }, CancellationToken.None);

        // Negotiate each protocol, then declare a 1,000-byte message (varint 0xE8 0x07) and never finish it.
        for (var i = 0; i < ids.Length; i++)
        {
            byte[] open = [.. Prefixed("/multistream/1.0.0\n"), .. Prefixed(protocols[i] + "\n"), 0xE8, 0x07];
            await hostile.SendFrameAsync(Data, Syn, ids[i], (uint)open.Length, open, ct);
        }

        var honest = ServeHonestClientAsync(authority, clientKey, address, ct);
        var ticks = 0;
        var allEnded = Task.WhenAll(ended.Values.Select(t => t.Task));
        for (; ticks < MaxTicks && !allEnded.IsCompleted; ticks++)
        {
            foreach (var id in ids.Where(id => !ended[id].Task.IsCompleted))
            {
                try
                {
                    await hostile.SendFrameAsync(Data, 0, id, 1, new byte[1], ct);
                }
                catch (IOException)
                {
                }
            }
            // The hostile peer's pacing, not a wait for anything.
            await Task.WhenAny(allEnded, Task.Delay(100, ct));
        }
        await honest;
        var times = await allEnded.WaitAsync(TimeSpan.FromSeconds(30), ct);
        for (var i = 0; i < ids.Length; i++)
            TestContext.Out.WriteLine($"{protocols[i]}: negotiated, then reset after {times[i]} ms of trickling");
        using (Assert.EnterMultipleScope())
        {
            for (var i = 0; i < ids.Length; i++)
            {
                Assert.That(echoed[ids[i]].ToString(), Does.Contain(protocols[i]), $"{protocols[i]} was negotiated (its handler, not multistream, ended it)");
                // A byte every 100 ms would finish the 1,000 bytes after 100 s: each stream ended long before.
                Assert.That(times[i], Is.LessThan(60_000), protocols[i]);
            }
            Assert.That(ticks, Is.LessThan(MaxTicks));
        }
        // The peer's scope drains: no stream is left (the host's own half-closed outbound ones are reset after
        // StreamCloseTimeout), and the only memory held is the open connection's Noise buffers, for its whole life.
        var noiseBuffers = new NoiseOptions().MaxBufferedBytes + (64 * 1024) + 65535L;
        await WaitUntilAsync(() => host.Resources.PeerUsage(hostile.PeerId) is { Streams: 0, Memory: var m } && m == noiseBuffers, TimeSpan.FromSeconds(30), ct,
            () => $"peer scope {host.Resources.PeerUsage(hostile.PeerId)}, system {host.Resources.System.Streams} streams / {host.Resources.System.Memory} bytes");
        TestContext.Out.WriteLine($"peer scope after the slow streams: {host.Resources.PeerUsage(hostile.PeerId)}, system {host.Resources.System.Streams} streams");
        stopReading.Cancel();
        try
        {
            await reader.WaitAsync(TimeSpan.FromSeconds(30), ct);
        }
        catch (OperationCanceledException)
        {
        }
        Assert.That(await hostile.PingAsync(3, ct), Is.True, "only the streams were ended, not the connection");
    }

    // Polls a counter the host updates from its own threads (no event to wait on), bounded in time.
    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan limit, CancellationToken ct, Func<string> describe)
    {
        var deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline) Assert.Fail($"not drained within {limit}: {describe()}");
            await Task.Delay(50, ct);
        }
    }

    // An honest client opens a mailbox and pushes a blob while the slow streams are held.
    private async Task ServeHonestClientAsync(DevnetAuthority authority, Ed25519Identity clientKey, Multiaddr address, CancellationToken ct)
    {
        await using var client = await KontinuumNode.StartAsync(new KontinuumNodeOptions { Identity = clientKey, Network = authority.Network }, ct);
        await client.Host!.DialAsync(address, ct);
        await using var session = await MailboxSession.ConnectAsync(client.Host!, address.PeerId!, null, ct);
        await session.OpenAsync(RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(16), default, ct);
        var blob = RandomNumberGenerator.GetBytes(1000);
        var pushed = await session.PushAsync(blob, KontinuumP2P.Certs.Hashing.Blake3.Hash(blob), 0, ct);
        Assert.That(pushed.Cursor, Is.EqualTo(1));
    }

    private static byte[] Prefixed(string line) => [(byte)Encoding.UTF8.GetByteCount(line), .. Encoding.UTF8.GetBytes(line)];
}
