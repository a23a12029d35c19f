using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Node.Tests;

/// <summary>A node with mailboxes also serves content, from a folder beside its mailbox database.</summary>
[TestFixture]
[CancelAfter(120_000)]
public sealed class ContentNodeTests
{
    private string _directory = null!;

    [SetUp]
    public void SetUp() => _directory = Directory.CreateTempSubdirectory("kp-content-node-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Test]
    public async Task A_mailbox_node_stores_and_serves_content(CancellationToken cancellationToken)
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
            Mailbox = new MailboxServerOptions { Store = new MailboxStoreOptions { DatabasePath = Path.Combine(_directory, "mailbox.db") } },
        }, cancellationToken);
        Assert.That(server.ContentServer, Is.Not.Null);
        Assert.That(server.Host!.Protocols, Does.Contain(ContentProtocol.ProtocolId));
        Assert.That(server.ContentServer!.Store.Options.Directory, Is.EqualTo(Path.Combine(_directory, "content")));

        await using var client = await KontinuumNode.StartAsync(new KontinuumNodeOptions { Identity = clientKey, Network = authority.Network }, cancellationToken);
        using var keys = new GroupKeys(GroupSecret.Generate());
        var slot = keys.ForSlot("node");
        var holder = new ContentHolder(server.PeerId, [server.ListenAddresses[0]], slot, new byte[16]);
        var file = Path.Combine(_directory, "in.bin");
        var bytes = new byte[300_000];
        new Random(7).NextBytes(bytes);
        await File.WriteAllBytesAsync(file, bytes, cancellationToken);
        var content = new ContentClient(client.Host!, new ContentClientOptions { ChunkSize = 64 << 10 });
        var upload = await content.UploadAsync(file, [holder], cancellationToken: cancellationToken);
        var output = Path.Combine(_directory, "out.bin");
        await content.DownloadAsync(upload.Reference, [holder with { Mailbox = null, DeviceId = null }], output, cancellationToken: cancellationToken);
        Assert.That(await File.ReadAllBytesAsync(output, cancellationToken), Is.EqualTo(bytes));
        Assert.That(server.MailboxServer!.Store.Statistics.Mailboxes, Is.EqualTo(1), "the put was authorised through the node's mailbox store");
    }

    [Test]
    public async Task A_device_node_serves_the_content_it_offers(CancellationToken cancellationToken)
    {
        using var authority = new DevnetAuthority("devnet", 1, 1, TimeProvider.System);
        using var deviceKey = Ed25519Identity.Generate();
        using var receiverKey = Ed25519Identity.Generate();
        await using var device = await KontinuumNode.StartAsync(new KontinuumNodeOptions
        {
            Identity = deviceKey,
            Network = authority.Network,
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            DhtMode = KontinuumP2P.Dht.DhtMode.Client,
            ServeOwnContent = true,
        }, cancellationToken);
        Assert.That(device.ContentSender, Is.Not.Null);
        Assert.That(device.Host!.Protocols, Does.Contain(ContentProtocol.ProtocolId));
        var file = Path.Combine(_directory, "mine.bin");
        var bytes = new byte[200_000];
        new Random(8).NextBytes(bytes);
        await File.WriteAllBytesAsync(file, bytes, cancellationToken);
        var reference = await new ContentClient(device.Host!, new ContentClientOptions { ChunkSize = 64 << 10 }).PrepareUploadAsync(file, cancellationToken);
        await device.ContentSender!.OfferAsync(file, reference, cancellationToken);

        await using var receiver = await KontinuumNode.StartAsync(new KontinuumNodeOptions { Identity = receiverKey, Network = authority.Network }, cancellationToken);
        var output = Path.Combine(_directory, "got.bin");
        await new ContentClient(receiver.Host!).DownloadAsync(reference, [new ContentHolder(device.PeerId, [device.ListenAddresses[0]])], output,
            cancellationToken: cancellationToken);
        Assert.That(await File.ReadAllBytesAsync(output, cancellationToken), Is.EqualTo(bytes));
        Assert.That(device.ContentSender.ChunksServed, Is.EqualTo(4));
    }
}
