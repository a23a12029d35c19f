using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Mailbox.Tests.Content;

/// <summary>The sending device serves its own content while online: chunks no mailbox node can supply come from it.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ContentSenderTests
{
    private const int ChunkSize = 64 << 10;
    private static readonly ContentClientOptions Options = new() { ChunkSize = ChunkSize, FetchBatch = 4 };

    [Test]
    public async Task A_chunk_every_mailbox_holder_lost_is_fetched_from_the_sender()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var fleet = await ContentFleet.StartAsync(2);
        using var senderKey = Ed25519Identity.Generate();
        await using var senderHost = new PeerHost(new PeerHostOptions
        {
            Identity = senderKey,
            Transports = [new TcpTransport()],
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
        });
        await senderHost.StartAsync(timeout.Token);
        var source = fleet.NewFile("photo.bin", 10 * ChunkSize - 5, seed: 21);
        var upload = await new ContentClient(senderHost, Options).UploadAsync(source, fleet.Holders(), cancellationToken: timeout.Token);
        await using var serving = ContentSenderServer.Start(senderHost);
        await serving.OfferAsync(source, upload.Reference, timeout.Token);
        var sent = (upload.Reference with { Sender = senderHost.PeerId, SenderAddresses = senderHost.ListenAddresses }).ToBlob();
        var reference = ContentReference.FromBlob(sent);
        Assert.That(reference.Sender, Is.EqualTo(senderHost.PeerId), "the sender rides in the reference blob");

        // Both mailbox nodes lose chunk 4 (damaged on disk: re-hashed on read, dropped and reported missing).
        foreach (var node in fleet.Nodes)
        {
            var chunk = Path.Combine(node.ContentDirectory, upload.Reference.Id.ToHex(), "4.c");
            var bytes = File.ReadAllBytes(chunk);
            bytes[10] ^= 1;
            File.WriteAllBytes(chunk, bytes);
        }
        var receiver = new ContentClient(await fleet.ClientHostAsync(), Options);
        var withoutSender = Assert.ThrowsAsync<ContentException>(() =>
            receiver.DownloadAsync(upload.Reference, fleet.Holders(), Path.Combine(fleet.Directory, "a.out"), cancellationToken: timeout.Token));
        Assert.That(withoutSender!.Code, Is.EqualTo(ContentErrorCode.Unavailable), "no mailbox node has chunk 4");

        var output = Path.Combine(fleet.Directory, "photo.out");
        var download = await receiver.DownloadAsync(reference, fleet.Holders(), output, cancellationToken: timeout.Token);
        Assert.That(File.ReadAllBytes(output), Is.EqualTo(File.ReadAllBytes(source)));
        Assert.That(download.FetchedFrom[senderHost.PeerId], Is.EqualTo(1), "only the lost chunk came from the sender");
        Assert.That(serving.ChunksServed, Is.EqualTo(1));

        // A file changed after the upload is never served wrong: its chunk is reported missing.
        await using (var stream = new FileStream(source, FileMode.Open, FileAccess.Write))
        {
            stream.Position = 4 * ChunkSize + 3;
            stream.WriteByte(0x77);
        }
        var changed = Assert.ThrowsAsync<ContentException>(() =>
            receiver.DownloadAsync(reference, fleet.Holders(), Path.Combine(fleet.Directory, "b.out"), cancellationToken: timeout.Token));
        Assert.That(changed!.Code, Is.EqualTo(ContentErrorCode.Unavailable));
        Assert.That(serving.ChunksServed, Is.EqualTo(1));
    }

    [Test]
    public async Task The_sender_serves_read_only_and_only_what_it_offers()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await using var fleet = await ContentFleet.StartAsync(1);
        using var senderKey = Ed25519Identity.Generate();
        await using var senderHost = new PeerHost(new PeerHostOptions
        {
            Identity = senderKey,
            Transports = [new TcpTransport()],
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
        });
        await senderHost.StartAsync(timeout.Token);
        await using var serving = ContentSenderServer.Start(senderHost, new ContentSenderOptions { MaxOffers = 1 });
        var first = fleet.NewFile("one.bin", 3 * ChunkSize, seed: 22);
        var second = fleet.NewFile("two.bin", 3 * ChunkSize, seed: 23);
        var client = new ContentClient(senderHost, Options);
        var a = await client.PrepareUploadAsync(first, timeout.Token);
        var b = await client.PrepareUploadAsync(second, timeout.Token);
        await serving.OfferAsync(first, a, timeout.Token);
        await serving.OfferAsync(second, b, timeout.Token);
        Assert.That(serving.OfferCount, Is.EqualTo(1), "the oldest offer is withdrawn past MaxOffers");
        Assert.ThrowsAsync<ContentException>(() => serving.OfferAsync(first, b, timeout.Token), "a file that does not match its reference is not offered");

        var receiver = new ContentClient(await fleet.ClientHostAsync(), Options);
        var asSender = new ContentHolder(senderHost.PeerId, senderHost.ListenAddresses.ToList());
        var got = await receiver.DownloadAsync(b, [asSender], Path.Combine(fleet.Directory, "two.out"), cancellationToken: timeout.Token);
        Assert.That(File.ReadAllBytes(got.Path), Is.EqualTo(File.ReadAllBytes(second)));
        var withdrawn = Assert.ThrowsAsync<ContentException>(() =>
            receiver.DownloadAsync(a, [asSender], Path.Combine(fleet.Directory, "one.out"), cancellationToken: timeout.Token));
        Assert.That(withdrawn!.Code, Is.EqualTo(ContentErrorCode.Unavailable));

        // Puts are refused: the device is not a store.
        var holder = fleet.Holders(0)[0] with { Peer = senderHost.PeerId, Addresses = senderHost.ListenAddresses.ToList() };
        var refused = Assert.ThrowsAsync<ContentException>(() => receiver.UploadAsync(second, [holder], cancellationToken: timeout.Token));
        Assert.That(refused!.Code, Is.EqualTo(ContentErrorCode.Unauthorized));
    }
}
