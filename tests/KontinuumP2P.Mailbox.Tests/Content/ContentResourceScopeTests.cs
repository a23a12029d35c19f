using Google.Protobuf;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Resources;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Protos.Content;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Mailbox.Tests.Content;

/// <summary>Issue #11: a content fetch's chunk buffer is reserved in the stream's scope before it is rented.</summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed class ContentResourceScopeTests
{
    [Test]
    public async Task A_fetch_whose_chunk_buffer_does_not_fit_the_stream_scope_is_refused_and_the_stream_goes_on(CancellationToken ct)
    {
        await using var fleet = await ContentFleet.StartAsync(1);
        var client = await fleet.ClientHostAsync();
        var holder = fleet.Holders()[0];
        var large = await new ContentClient(client, new ContentClientOptions { ChunkSize = ContentLimits.MaxChunkSize })
            .UploadAsync(fleet.NewFile("large.bin", 1_500_000, seed: 1), [holder], cancellationToken: ct);
        var small = await new ContentClient(client, new ContentClientOptions { ChunkSize = ContentLimits.MinChunkSize })
            .UploadAsync(fleet.NewFile("small.bin", 20_000, seed: 2), [holder], cancellationToken: ct);

        // The same node's stores served again by a host whose stream scope holds 1 MiB: a 1 MiB chunk's buffer (2 MiB pooled) does not fit.
        var node = fleet.Nodes[0];
        await node.StopAsync();
        await using var host = new PeerHost(new PeerHostOptions
        {
            Identity = node.Identity,
            Transports = [new TcpTransport()],
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            ResourceLimits = new ResourceManagerOptions { Stream = new(Streams: 1, Memory: 1L << 20) },
        });
        await host.StartAsync(ct);
        await using var mailbox = await MailboxServer.StartAsync(host, new MailboxServerOptions { Store = new MailboxStoreOptions { DatabasePath = node.MailboxDatabase } },
            cancellationToken: ct);
        await using var content = ContentServer.Start(host, new ContentServerOptions { Store = new ContentStoreOptions { Directory = node.ContentDirectory } }, mailbox.Store);

        await using var channel = await ContentChannel.OpenAsync(client, holder with { Addresses = [host.ListenAddresses[0]] }, TimeSpan.FromSeconds(30), ct);
        var refused = await channel.SendAsync(new ContentRequest { Fetch = new Fetch { ContentId = ByteString.CopyFrom(large.Reference.Id.Digest), First = 0, Count = 1 } }, true, ct);
        var error = Assert.ThrowsAsync<ContentException>(async () => await channel.ReceiveAsync(refused, ct))!;
        Assert.That(error.Code, Is.EqualTo(ContentErrorCode.TooManySessions));
        Assert.That(error.Message, Does.Contain("stream-memory").And.Contain("a content chunk"));

        // The same stream then serves a fetch whose buffer fits, and nothing stays reserved.
        var served = await channel.SendAsync(new ContentRequest { Fetch = new Fetch { ContentId = ByteString.CopyFrom(small.Reference.Id.Digest), First = 0, Count = 1 } }, true, ct);
        var chunk = await channel.ReceiveAsync(served, ct);
        Assert.That(chunk.Chunk.Data.Length, Is.GreaterThan(ContentLimits.MinChunkSize));
        Assert.That(host.Resources.Protocol(ContentProtocol.ProtocolId).Memory, Is.Zero);
    }
}
