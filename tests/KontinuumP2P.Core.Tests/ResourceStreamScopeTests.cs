using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Resources;

namespace KontinuumP2P.Core.Tests;

/// <summary>Stream scopes: a handler's buffers count in its connection, peer, protocol and the system, and closing a connection closes them.</summary>
[TestFixture]
public sealed class ResourceStreamScopeTests
{
    [Test]
    public void A_stream_reservation_counts_everywhere_and_a_refusal_names_the_full_scope_and_its_limit()
    {
        using var manager = new ResourceManager(new ResourceManagerOptions
        {
            Peer = new(Streams: 10, Memory: 10_000),
            Protocol = new(Streams: 10, Memory: 3_000),
            Stream = new(Streams: 1, Memory: 2_000),
        });
        var (alice, bob) = (Peer(1), Peer(2));
        using var aliceConnection = manager.OpenConnection(alice);
        using var bobConnection = manager.OpenConnection(bob);
        var protocol = manager.Protocol("/mailbox");
        using var a = manager.OpenStream(aliceConnection, protocol);
        using var b = manager.OpenStream(bobConnection, protocol);

        a.ReserveMemory(1_500, "a frame");
        Assert.That((aliceConnection.Memory, manager.PeerUsage(alice).Memory, protocol.Memory, manager.System.Memory), Is.EqualTo((1_500L, 1_500L, 1_500L, 1_500L)));
        var streamFull = Assert.Throws<ResourceLimitExceededException>(() => a.ReserveMemory(501, "a frame"))!;
        Assert.That(streamFull.Reason, Is.EqualTo("stream-memory"));
        // Bob is a different peer, but the protocol is shared: its limit stops him.
        var protocolFull = Assert.Throws<ResourceLimitExceededException>(() => b.ReserveMemory(1_501, "a 1501-byte frame"))!;
        Assert.That(protocolFull.Reason, Is.EqualTo("protocol-memory"));
        Assert.That(protocolFull.Message, Does.Contain("protocol scope /mailbox").And.Contain("1500 of 3000 bytes").And.Contain("a 1501-byte frame"));
        Assert.That(manager.System.Memory, Is.EqualTo(1_500), "a refusal reserves nothing anywhere");

        b.ReserveMemory(1_500, "a frame");
        a.ReleaseMemory(1_500);
        Assert.That((aliceConnection.Memory, protocol.Memory, manager.System.Memory), Is.EqualTo((0L, 1_500L, 1_500L)));
    }

    [Test]
    public void Closing_a_connection_closes_its_streams_and_late_releases_or_reservations_change_nothing()
    {
        using var manager = new ResourceManager();
        var protocol = manager.Protocol("/content");
        var connection = manager.OpenConnection(Peer(3));
        var stream = manager.OpenStream(connection, protocol);
        connection.TryReserveMemory(100);
        stream.ReserveMemory(4_096, "a chunk");
        Assert.That((connection.Memory, protocol.Memory, manager.System.Memory), Is.EqualTo((4_196L, 4_096L, 4_196L)));

        connection.Dispose();
        Assert.That((protocol.Memory, manager.System.Memory, manager.PeerScopes), Is.EqualTo((0L, 0L, 0)));
        // The handler notices later: its release and dispose are no-ops, and it cannot reserve again.
        stream.ReleaseMemory(4_096);
        stream.Dispose();
        Assert.That(Assert.Throws<ResourceLimitExceededException>(() => stream.ReserveMemory(1, "a frame"))!.Reason, Is.EqualTo("stream-closed"));
        using var late = manager.OpenStream(connection, protocol);
        Assert.That(late.TryReserveMemory(1), Is.EqualTo("stream-closed"), "a stream opened on a closed connection starts closed");
        Assert.That((protocol.Memory, manager.System.Memory), Is.EqualTo((0L, 0L)));
    }

    [Test]
    public void Disposing_a_stream_returns_what_it_held_and_nothing_else()
    {
        using var manager = new ResourceManager();
        var protocol = manager.Protocol("/mailbox");
        using var connection = manager.OpenConnection(Peer(4));
        connection.TryReserveMemory(10);
        var first = manager.OpenStream(connection, protocol);
        using var second = manager.OpenStream(connection, protocol);
        first.ReserveMemory(1_000, "a frame");
        second.ReserveMemory(2_000, "a frame");
        first.Dispose();
        first.Dispose();
        Assert.That((connection.Memory, protocol.Memory, manager.System.Memory), Is.EqualTo((2_010L, 2_000L, 2_010L)));
        using var unscoped = manager.OpenStream(null, protocol);
        unscoped.ReserveMemory(5, "a frame");
        Assert.That((connection.Memory, protocol.Memory, manager.System.Memory), Is.EqualTo((2_010L, 2_005L, 2_015L)));
    }

    private static PeerId Peer(byte seed)
    {
        var key = new byte[32];
        key[0] = seed;
        using var identity = Ed25519Identity.FromSeed(key);
        return identity.PeerId;
    }
}
