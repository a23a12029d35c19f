using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Configuration;

namespace KontinuumP2P.Archive.Tests.Holders;

/// <summary><c>[archive_holder]</c> and the <c>peers</c> sink in node.toml.</summary>
[TestFixture]
public sealed class ArchiveHolderConfigTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-holder-config-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void The_holder_section_needs_the_archive_capability_and_peers_is_a_sink()
    {
        var files = DevnetLayout.Write(Path.Combine(_dir, "dn"), 2, 40500, TimeSpan.FromDays(1), TimeProvider.System);
        var path = files.Nodes[0].ConfigPath;
        // This test writes node 0's [archive] itself: drop the one devnet init wrote (the last section of the file).
        var written = File.ReadAllText(path);
        File.WriteAllText(path, written[..written.IndexOf("\n[archive]\n", StringComparison.Ordinal)]);
        File.AppendAllText(path, """

            [archive]
            enabled = true
            sinks = ["peers", "dir:cold"]

            [archive_holder]
            enabled = false
            directory = "held"
            quota = 1048576
            """);
        var none = new Dictionary<string, string>();
        using (var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, none), path))
        {
            Assert.That(resolved.Options.Archive!.Sinks[0], Is.EqualTo("peers"));
            Assert.That(resolved.Options.ArchiveHolder, Is.Null);
        }
        // Devnet node 0's certificate has dht and mailbox, not archive: holding is refused, naming the key.
        var refused = Assert.Throws<NodeConfigException>(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(path,
            new Dictionary<string, string> { ["KONTINUUM__ARCHIVE_HOLDER__ENABLED"] = "true" }), path))!;
        Assert.That(refused.Message, Does.StartWith("archive_holder.enabled").And.Contain("'archive' capability"));
        var quota = Assert.Throws<NodeConfigException>(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(path,
            new Dictionary<string, string> { ["KONTINUUM__ARCHIVE_HOLDER__ENABLED"] = "true", ["KONTINUUM__ARCHIVE_HOLDER__QUOTA"] = "0" }), path))!;
        Assert.That(quota.Message, Does.StartWith("archive_holder.quota"));
    }
}
