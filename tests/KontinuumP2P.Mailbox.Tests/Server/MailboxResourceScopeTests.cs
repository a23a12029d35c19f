using System.Buffers;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Resources;
using KontinuumP2P.Mailbox.Protos;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Mailbox.Tests.Server;

/// <summary>
/// Issue #11: a large mailbox frame is copied out of the stream into a pooled buffer charged to the stream's scope, so
/// peers that start maximum-size frames on many streams and never finish them are refused at the peer or protocol
/// memory limit (the refusal names it) while an honest client is still served.
/// </summary>
[TestFixture]
[CancelAfter(120_000)]
public sealed class MailboxResourceScopeTests
{
    // A largest request frame is held in a 2 MiB pooled array, and that is what is charged.
    private const long FrameCharge = 2L << 20;

    [Test]
    public async Task Max_size_frames_from_many_streams_are_refused_at_the_peer_memory_limit(CancellationToken ct)
    {
        // 1.2 MiB of Noise buffers + 3 frames of 2 MiB fit in 8 MiB; a fourth does not.
        await using var fixture = await Fixture.StartAsync(new ResourceManagerOptions { Peer = new(Streams: 1024, Memory: 8L << 20) }, ct);
        await using var attacker = await fixture.ClientAsync(ct);

        var (held, refusals) = await AttackAsync(fixture, [attacker], streamsPerPeer: 6, expectedHeld: 3, ct);

        Assert.That(refusals, Has.Count.EqualTo(3));
        foreach (var refusal in refusals) Assert.That(refusal, Does.Contain("peer-memory").And.Contain("over its limit"));
        Assert.That(fixture.Protocol.Memory, Is.EqualTo(3 * FrameCharge));
        Assert.That(fixture.Host.Resources.PeerUsage(attacker.PeerId).Memory, Is.LessThanOrEqualTo(8L << 20));
        await fixture.HonestClientIsServedAsync(ct);
        await fixture.EverythingIsReleasedAfterAsync(attacker, held, ct);
    }

    [Test]
    public async Task Two_peers_filling_the_protocol_scope_are_refused_at_the_protocol_memory_limit(CancellationToken ct)
    {
        // Each peer's own scope has room; the mailbox protocol's 5 MiB across all peers holds two frames.
        await using var fixture = await Fixture.StartAsync(new ResourceManagerOptions
        {
            Protocols = new Dictionary<string, ResourceLimits> { [MailboxProtocol.ProtocolId] = new(Streams: 4096, Memory: 5L << 20) },
        }, ct);
        await using var first = await fixture.ClientAsync(ct);
        await using var second = await fixture.ClientAsync(ct);

        var (held, refusals) = await AttackAsync(fixture, [first, second], streamsPerPeer: 3, expectedHeld: 2, ct);

        Assert.That(refusals, Has.Count.EqualTo(4));
        foreach (var refusal in refusals) Assert.That(refusal, Does.Contain("protocol-memory").And.Contain("protocol scope " + MailboxProtocol.ProtocolId));
        Assert.That(fixture.Protocol.Memory, Is.EqualTo(2 * FrameCharge));
        // A small push waits in the stream's pipe (charged by yamux, not here), so the honest client still gets through.
        await fixture.HonestClientIsServedAsync(ct);
        await fixture.EverythingIsReleasedAfterAsync(first, held, ct);
    }

    // Starts a maximum-size frame on every stream and sends only its first 100 KiB: the server copies it into a
    // charged buffer and waits for the rest. Returns the streams still held and the refusal messages.
    private static async Task<(List<IP2PStream> Held, List<string> Refusals)> AttackAsync(Fixture fixture, PeerHost[] attackers, int streamsPerPeer,
        int expectedHeld, CancellationToken ct)
    {
        var streams = new List<IP2PStream>();
        foreach (var attacker in attackers)
        {
            for (var i = 0; i < streamsPerPeer; i++)
            {
                var stream = await attacker.NewStreamAsync(fixture.Host.PeerId, [MailboxProtocol.ProtocolId], ct);
                streams.Add(stream);
                var prefix = new ArrayBufferWriter<byte>();
                Varint.Write(prefix, MailboxProtocol.MaxRequestFrameBytes);
                await stream.Output.WriteAsync(prefix.WrittenMemory, ct);
                await stream.Output.WriteAsync(new byte[100 << 10], ct);
            }
        }
        var answers = streams.Select(s => MailboxFrames.ReadAsync(s.Input, Response.Parser, MailboxProtocol.MaxRequestFrameBytes, ct).AsTask()).ToList();
        var refusals = new List<string>();
        var pending = answers.ToList();
        while (refusals.Count < streams.Count - expectedHeld)
        {
            var done = await Task.WhenAny(pending).WaitAsync(ct);
            pending.Remove(done);
            var response = await done;
            Assert.That(response?.Error, Is.Not.Null, "a refused stream is answered with an error before it closes");
            Assert.That((int)response!.Error.Code, Is.EqualTo((int)MailboxErrorCode.RateLimited));
            refusals.Add(response.Error.Message);
            // Then the stream ends: nothing more is read from it.
            Assert.That(await MailboxFrames.ReadAsync(streams[answers.IndexOf(done)].Input, Response.Parser, 1 << 20, ct), Is.Null);
        }
        var held = streams.Where((_, i) => !answers[i].IsCompleted).ToList();
        Assert.That(held, Has.Count.EqualTo(expectedHeld), "the streams whose frames fit are still being read");
        return (held, refusals);
    }

    private sealed class Fixture : IAsyncDisposable
    {
        private readonly List<IAsyncDisposable> _owned = [];
        private readonly string _directory;

        private Fixture(PeerHost host, MailboxServer server, string directory)
        {
            Host = host;
            Server = server;
            _directory = directory;
        }

        public PeerHost Host { get; }

        public MailboxServer Server { get; }

        public ResourceScope Protocol => Host.Resources.Protocol(MailboxProtocol.ProtocolId);

        public static async Task<Fixture> StartAsync(ResourceManagerOptions limits, CancellationToken ct)
        {
            var directory = Directory.CreateTempSubdirectory("kp-mbx-scope-").FullName;
            var identity = Ed25519Identity.Generate();
            var host = new PeerHost(new PeerHostOptions
            {
                Identity = identity,
                Transports = [new TcpTransport()],
                ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
                InboundStreamLimits = new Dictionary<string, int> { [MailboxProtocol.ProtocolId] = 256 },
                ResourceLimits = limits,
            });
            await host.StartAsync(ct);
            // Long open timeout: the held streams must stay held while the test looks at them.
            var options = ServerHarness.DefaultOptions(directory) with { OpenTimeout = TimeSpan.FromMinutes(5) };
            var server = await MailboxServer.StartAsync(host, options, cancellationToken: ct);
            var fixture = new Fixture(host, server, directory);
            fixture._owned.Add(new DisposeIdentity(identity));
            return fixture;
        }

        public async Task<PeerHost> ClientAsync(CancellationToken ct)
        {
            var identity = Ed25519Identity.Generate();
            _owned.Add(new DisposeIdentity(identity));
            var client = new PeerHost(new PeerHostOptions { Identity = identity, Transports = [new TcpTransport()] });
            await client.StartAsync(ct);
            await client.DialAsync(Host.ListenAddresses[0].WithPeerId(Host.PeerId), ct);
            return client;
        }

        public async Task HonestClientIsServedAsync(CancellationToken ct)
        {
            await using var honest = await ClientAsync(ct);
            await using var session = await MailboxSession.ConnectAsync(honest, Host.PeerId, null, ct);
            var credentials = Credentials.Random();
            await session.OpenAsync(credentials.MailboxId, credentials.Capability, credentials.DeviceId, credentials.ArchiveKey, ct);
            Assert.That((await session.PushAsync(Blobs.Make(16 << 10), ct)).Cursor, Is.EqualTo(1));
            Assert.That((await session.PushAsync(Blobs.Make(16 << 10), ct)).Cursor, Is.EqualTo(2));
        }

        public async Task EverythingIsReleasedAfterAsync(PeerHost attacker, List<IP2PStream> held, CancellationToken ct)
        {
            foreach (var stream in held) stream.Reset();
            await attacker.DisconnectAsync(Host.PeerId, ct);
            while (Protocol.Memory != 0) await Task.Delay(10, ct);
            Assert.That(Host.Resources.PeerUsage(attacker.PeerId), Is.EqualTo(default(ResourceLimits)));
        }

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            await Host.DisposeAsync();
            foreach (var owned in _owned) await owned.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(_directory, recursive: true);
        }

        private sealed class DisposeIdentity(Ed25519Identity identity) : IAsyncDisposable
        {
            public ValueTask DisposeAsync()
            {
                identity.Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }
}
