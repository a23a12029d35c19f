using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Devnet;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Node.Configuration;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Node.Tests;

/// <summary><c>[content]</c> in node.toml: values reach the content server, bad values name their key.</summary>
[TestFixture]
[CancelAfter(120_000)]
public sealed class ContentConfigTests
{
    private static readonly Dictionary<string, string> NoEnvironment = [];
    private string _directory = null!;

    [SetUp]
    public void SetUp() => _directory = Directory.CreateTempSubdirectory("kp-content-config-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Node 0 of a devnet serves mailboxes; its node.toml gets <paramref name="content"/> appended.</summary>
    private string MailboxNodeConfig(string content)
    {
        var files = DevnetLayout.Write(Path.Combine(_directory, "dn"), 1, 41100, TimeSpan.FromDays(1), TimeProvider.System);
        var path = files.Nodes[0].ConfigPath;
        File.AppendAllText(path, content);
        return path;
    }

    [Test]
    public void Content_settings_resolve_to_the_content_server_options()
    {
        var path = MailboxNodeConfig("\n[content]\ndirectory = \"../blobs\"\nmax_store_bytes = 2000000000\nmax_contents = 50\nttl = \"2d\"\n"
            + "max_content_bytes = 10485760\nmin_chunk_bytes = 65536\nmax_chunk_bytes = 524288\nmax_sessions = 12\nmax_fetch_chunks = 8\n");
        using var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, NoEnvironment), path);
        var content = resolved.Options.Content!;
        Assert.Multiple(() =>
        {
            Assert.That(resolved.Options.ServeContent, Is.True);
            Assert.That(content.Store.Directory, Is.EqualTo(Path.GetFullPath("../blobs", Path.GetDirectoryName(path)!)));
            Assert.That(content.Store.MaxStoreBytes, Is.EqualTo(2_000_000_000));
            Assert.That(content.Store.MaxContents, Is.EqualTo(50));
            Assert.That(content.Store.Ttl, Is.EqualTo(TimeSpan.FromDays(2)));
            Assert.That(content.Store.Limits.MaxContentBytes, Is.EqualTo(10 << 20));
            Assert.That(content.Store.Limits.MinChunkBytes, Is.EqualTo(64 << 10));
            Assert.That(content.Store.Limits.MaxChunkBytes, Is.EqualTo(512 << 10));
            Assert.That(content.MaxSessions, Is.EqualTo(12));
            Assert.That(content.MaxFetchChunks, Is.EqualTo(8));
        });
    }

    [Test]
    public void Defaults_put_the_store_beside_the_mailbox_database()
    {
        var path = MailboxNodeConfig("");
        using var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, NoEnvironment), path);
        var content = resolved.Options.Content!;
        Assert.That(content.Store.Directory, Is.EqualTo(Path.Combine(Path.GetDirectoryName(resolved.Options.Mailbox!.Store.DatabasePath)!, "content")));
        Assert.That(content.Store.Limits.MaxContentBytes, Is.EqualTo(ContentLimits.DefaultMaxContentBytes));
        Assert.That(content.Store.Ttl, Is.EqualTo(TimeSpan.FromDays(7)));
    }

    [TestCase("ttl = \"forever\"", "content.ttl", "is not a duration")]
    [TestCase("max_content_bytes = 0", "content.max_content_bytes", "is outside 1 to")]
    [TestCase("max_chunk_bytes = 2097152", "content.max_chunk_bytes", "is outside")]
    [TestCase("min_chunk_bytes = 1024", "content.min_chunk_bytes", "is outside 4096")]
    [TestCase("min_chunk_bytes = 65536\nmax_chunk_bytes = 32768", "content.max_chunk_bytes", "content.min_chunk_bytes (65536)")]
    [TestCase("max_store_bytes = 1000", "content.max_store_bytes", "no content would fit")]
    [TestCase("max_sessions = 0", "content.max_sessions", "MaxSessions must be")]
    [TestCase("max_fetch_chunks = 5000", "content.max_fetch_chunks", "must be 1..1024")]
    [TestCase("max_contents = -1", "content.max_contents", "out of range")]
    [TestCase("quota = 5", "content.quota", "unknown key")]
    public void A_bad_value_names_its_key(string line, string key, string message)
    {
        var path = MailboxNodeConfig($"\n[content]\n{line}\n");
        var error = Assert.Throws<NodeConfigException>(() =>
        {
            using var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, NoEnvironment), path);
        });
        Assert.That(error!.Key, Is.EqualTo(key));
        Assert.That(error.Message, Does.Contain(key + ": ").And.Contain(message));
    }

    [Test]
    public async Task A_node_serves_content_with_the_configured_limits_or_not_at_all(CancellationToken cancellationToken)
    {
        var path = MailboxNodeConfig("\n[content]\nmax_content_bytes = 1048576\nmax_contents = 3\n");
        using (var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, NoEnvironment), path))
        {
            resolved.Options.ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")];
            resolved.Options.ExtraBootstrapPeers = [];
            resolved.Options.BootstrapDialing = null;
            resolved.Options.EnableMdns = false;
            await using var node = await KontinuumNode.StartAsync(resolved.Options, cancellationToken);
            Assert.That(node.ContentServer, Is.Not.Null);
            Assert.That(node.ContentServer!.Store.Options.Limits.MaxContentBytes, Is.EqualTo(1 << 20));
            Assert.That(node.ContentServer.Store.Options.MaxContents, Is.EqualTo(3));
        }
        File.AppendAllText(path, "enabled = false\n");
        using (var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, NoEnvironment), path))
        {
            Assert.That(resolved.Options.ServeContent, Is.False);
            resolved.Options.ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")];
            resolved.Options.ExtraBootstrapPeers = [];
            resolved.Options.BootstrapDialing = null;
            resolved.Options.EnableMdns = false;
            await using var node = await KontinuumNode.StartAsync(resolved.Options, cancellationToken);
            Assert.That(node.MailboxServer, Is.Not.Null);
            Assert.That(node.ContentServer, Is.Null);
            Assert.That(node.Host!.Protocols, Does.Not.Contain(ContentProtocol.ProtocolId));
        }
    }
}
