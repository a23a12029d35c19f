using System.Security.Cryptography;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Node.Configuration;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Node.Tests;

/// <summary>A node serves mailboxes only when its certificate carries the <c>mailbox</c> capability.</summary>
[TestFixture]
[CancelAfter(120_000)]
public sealed class MailboxNodeTests
{
    private string _directory = null!;

    [SetUp]
    public void SetUp() => _directory = Directory.CreateTempSubdirectory("kp-mbx-node-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private MailboxServerOptions MailboxOptions() => new()
    {
        Store = new MailboxStoreOptions { DatabasePath = Path.Combine(_directory, "mailbox.db"), Role = MailboxRole.Replica },
    };

    [Test]
    public async Task A_node_with_the_mailbox_capability_serves_mailboxes(CancellationToken cancellationToken)
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
            Mailbox = MailboxOptions(),
        }, cancellationToken);
        Assert.That(server.MailboxServer, Is.Not.Null);
        Assert.That(server.Host!.Protocols, Does.Contain(MailboxProtocol.ProtocolId));

        await using var client = await KontinuumNode.StartAsync(new KontinuumNodeOptions { Identity = clientKey, Network = authority.Network },
            cancellationToken);
        await client.Host!.DialAsync(server.ListenAddresses[0].WithPeerId(server.PeerId), cancellationToken);
        await using var session = await MailboxSession.ConnectAsync(client.Host!, server.PeerId, null, cancellationToken);
        var open = await session.OpenAsync(RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(16),
            default, cancellationToken);
        Assert.That(open.Retention.Role, Is.EqualTo(MailboxRole.Replica));
        var blob = RandomNumberGenerator.GetBytes(1000);
        var pushed = await session.PushAsync(blob, KontinuumP2P.Certs.Hashing.Blake3.Hash(blob), 0, cancellationToken);
        Assert.That(pushed.Cursor, Is.EqualTo(1));
        Assert.That(server.MailboxServer!.Store.Statistics.Blobs, Is.EqualTo(1));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void A_node_without_the_capability_is_refused_with_a_clear_error(bool withCertificate)
    {
        using var authority = new DevnetAuthority("devnet", 1, 1, TimeProvider.System);
        using var key = Ed25519Identity.Generate();
        var options = new KontinuumNodeOptions
        {
            Identity = key,
            Network = authority.Network,
            Certificate = withCertificate ? authority.IssueCertificate(key, TimeSpan.FromDays(1), ["dht"]) : null,
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            Mailbox = MailboxOptions(),
        };
        var error = Assert.ThrowsAsync<NodeConfigException>(async () => await KontinuumNode.StartAsync(options, CancellationToken.None));
        Assert.That(error!.Message, Does.Contain("mailbox").And.Contain(withCertificate ? "lacks the 'mailbox' capability" : "is missing"));
        Assert.That(File.Exists(Path.Combine(_directory, "mailbox.db")), Is.False, "nothing was started");
    }

    [Test]
    public void The_mailbox_section_of_node_toml_is_resolved_and_checked()
    {
        // devnet init enables [mailbox] on its first 3 nodes (certificates with the capability); the 4th is a plain node.
        var files = DevnetLayout.Write(Path.Combine(_directory, "dn"), 4, 40300, TimeSpan.FromDays(1), TimeProvider.System);
        var mailboxPath = files.Nodes[0].ConfigPath;
        using (var mailboxNode = NodeConfigResolver.Resolve(NodeConfigLoader.Load(mailboxPath, new Dictionary<string, string>()), mailboxPath))
            Assert.That(mailboxNode.Options.Mailbox?.Store.Role, Is.EqualTo(MailboxRole.Replica));
        var path = files.Nodes[3].ConfigPath;
        var enabled = new Dictionary<string, string>
        {
            ["KONTINUUM__MAILBOX__ENABLED"] = "true",
            ["KONTINUUM__MAILBOX__ROLE"] = "replica",
            ["KONTINUUM__MAILBOX__MAX_TTL"] = "2d",
            ["KONTINUUM__MAILBOX__DEFAULT_TTL"] = "1d",
        };
        // That node's certificate carries no mailbox capability: enabling [mailbox] is refused, naming it.
        var refused = Assert.Throws<NodeConfigException>(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, enabled), path))!;
        Assert.That(refused.Message, Does.Contain("'mailbox' capability"));

        var badRole = new Dictionary<string, string>(enabled) { ["KONTINUUM__MAILBOX__ROLE"] = "archive" };
        var role = Assert.Throws<NodeConfigException>(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, badRole), path))!;
        Assert.That(role.Message, Does.StartWith("mailbox.role"));

        var badTtl = new Dictionary<string, string>(enabled) { ["KONTINUUM__MAILBOX__DEFAULT_TTL"] = "3d" };
        var ttl = Assert.Throws<NodeConfigException>(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, badTtl), path))!;
        Assert.That(ttl.Message, Does.StartWith("mailbox.default_ttl"));

        using var disabled = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, new Dictionary<string, string>()), path);
        Assert.That(disabled.Options.Mailbox, Is.Null);
    }
}
