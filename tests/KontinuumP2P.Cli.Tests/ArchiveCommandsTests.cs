using System.Text.Json;
using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Cli.Commands;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Cli.Tests;

/// <summary><c>kontinuum archive verify|restore</c> over a real group, replica store, pusher and dir: sink.</summary>
public sealed class ArchiveCommandsTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-cli-archive-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task Restore_writes_every_plaintext_and_verify_reports_a_corrupt_pack()
    {
        var group = Path.Combine(_dir, "group");
        var sinkPath = Path.Combine(_dir, "archive");
        var plaintexts = new Dictionary<string, byte[]>();
        var random = new Random(6);
        using (var store = GroupStore.Create(group, GroupSecret.Generate(), "devnet", ["mbx-1"], 1))
        {
            await using var replica = await MailboxStore.OpenAsync(new MailboxStoreOptions { DatabasePath = Path.Combine(_dir, "store.db"), Role = MailboxRole.Replica });
            var keys = store.Current.SlotKeys["mbx-1"];
            var device = new byte[16];
            random.NextBytes(device);
            var handle = (await replica.OpenMailboxAsync(keys.MailboxId, keys.Capability, device, keys.ArchiveKey, CancellationToken.None)).Handle;
            for (var i = 0; i < 25; i++)
            {
                var plain = new byte[random.Next(1, 5000)];
                random.NextBytes(plain);
                var sealedBlob = BlobCipher.Seal(store.Current.Keys.BlobKey, plain);
                plaintexts[sealedBlob.Id.ToString()] = plain;
                await replica.PushAsync(handle, sealedBlob.Id.Digest.ToArray(), sealedBlob.Bytes, TimeSpan.Zero, CancellationToken.None);
            }
            using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
            await using var sink = new DirectorySink(sinkPath);
            using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(replica), [sink], state, new ArchivePusherOptions { TargetPackBytes = 16 * 1024 }, TimeProvider.System);
            await pusher.RunOnceAsync(flush: true, CancellationToken.None);
        }

        var output = Path.Combine(_dir, "out");
        var (code, lines, _) = await RunAsync(["archive", "restore", "--group", group, "--sink", "dir:" + sinkPath, "--out", output, "--json"]);
        Assert.That(code, Is.Zero);
        var summary = lines[^1];
        Assert.That((summary.GetProperty("restored").GetInt32(), summary.GetProperty("missing").GetInt32()), Is.EqualTo((25, 0)));
        Assert.That(lines[..^1].Select(l => l.GetProperty("blobId").GetString()), Is.EquivalentTo(plaintexts.Keys));
        foreach (var (id, plain) in plaintexts) Assert.That(await File.ReadAllBytesAsync(Path.Combine(output, id)), Is.EqualTo(plain));

        (code, lines, _) = await RunAsync(["archive", "verify", "--sink", "dir:" + sinkPath, "--sample", "100", "--json"]);
        Assert.That(code, Is.Zero);
        var packs = lines[0].GetProperty("packs").GetInt32();
        Assert.That(packs, Is.GreaterThan(2));
        Assert.That(lines[0].GetProperty("verified").GetInt32(), Is.EqualTo(packs));

        var victim = Directory.EnumerateFiles(Path.Combine(sinkPath, "p"), "*", SearchOption.AllDirectories).First();
        var bytes = await File.ReadAllBytesAsync(victim);
        bytes[^10] ^= 1;
        await File.WriteAllBytesAsync(victim, bytes);
        (code, lines, _) = await RunAsync(["archive", "verify", "--sink", "dir:" + sinkPath, "--sample", "100", "--json"]);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(lines[0].GetProperty("corrupt").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { Path.GetFileName(victim) }));

        // A pack gone from the sink: only the pusher's state knows it existed; --state lists it as missing.
        var gone = Directory.EnumerateFiles(Path.Combine(sinkPath, "p"), "*", SearchOption.AllDirectories).First(f => f != victim);
        File.Delete(gone);
        (code, lines, _) = await RunAsync(["archive", "verify", "--sink", "dir:" + sinkPath, "--sample", "100", "--json"]);
        Assert.That(lines[0].GetProperty("missing").GetArrayLength(), Is.Zero, "without the state the sink cannot know");
        (code, lines, _) = await RunAsync(["archive", "verify", "--sink", "dir:" + sinkPath, "--sample", "100", "--state", Path.Combine(_dir, "state.db"), "--json"]);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(lines[0].GetProperty("missing").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { Path.GetFileName(gone) }));
        Assert.That(lines[0].GetProperty("packs").GetInt32(), Is.EqualTo(packs));
    }

    [Test]
    public async Task Restore_brings_back_an_attachment_from_the_archived_content_and_verify_counts_it()
    {
        var group = Path.Combine(_dir, "group");
        var sinkPath = Path.Combine(_dir, "archive");
        var random = new Random(7);
        var attachment = new byte[200_000];
        random.NextBytes(attachment);
        string referenceId;
        ContentId contentId;
        using (var store = GroupStore.Create(group, GroupSecret.Generate(), "devnet", ["mbx-1"], 1))
        {
            await using var replica = await MailboxStore.OpenAsync(new MailboxStoreOptions { DatabasePath = Path.Combine(_dir, "store.db"), Role = MailboxRole.Replica });
            var contents = ContentStore.Open(new ContentStoreOptions { Directory = Path.Combine(_dir, "content") });
            // The content as a sending device seals it: fresh key, 64 KiB chunks, manifest of chunk hashes.
            const int chunkSize = 64 << 10;
            var count = (int)ContentLimits.ChunkCountOf(attachment.Length, chunkSize);
            var key = ContentCipher.NewKey();
            using var cipher = new ContentCipher(key, attachment.Length, chunkSize, count);
            var chunks = new byte[count][];
            var hashes = new byte[count * ContentManifest.HashLength];
            for (var i = 0; i < count; i++)
            {
                var part = attachment.AsSpan(i * chunkSize, Math.Min(chunkSize, attachment.Length - (i * chunkSize)));
                chunks[i] = new byte[part.Length + ContentCipher.TagLength];
                cipher.Encrypt(i, part, chunks[i]);
                KontinuumP2P.Certs.Hashing.Blake3.Hash(chunks[i], hashes.AsSpan(i * ContentManifest.HashLength, ContentManifest.HashLength));
            }
            var manifest = ContentManifest.Create(attachment.Length, chunkSize, hashes, new ContentLimits());
            contentId = manifest.Id;
            await contents.BeginAsync(manifest, CancellationToken.None);
            for (var i = 0; i < count; i++) await contents.PutChunkAsync(manifest.Id, i, chunks[i], CancellationToken.None);
            var reference = new ContentReference(manifest.Id, attachment.Length, chunkSize, count, key, "report.pdf");

            var keys = store.Current.SlotKeys["mbx-1"];
            var handle = (await replica.OpenMailboxAsync(keys.MailboxId, keys.Capability, new byte[16], keys.ArchiveKey, CancellationToken.None)).Handle;
            var sealedBlob = BlobCipher.Seal(store.Current.Keys.BlobKey, reference.ToBlob());
            referenceId = sealedBlob.Id.ToString();
            await replica.PushAsync(handle, sealedBlob.Id.Digest.ToArray(), sealedBlob.Bytes, TimeSpan.Zero, CancellationToken.None);
            using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
            await using var sink = new DirectorySink(sinkPath);
            using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(replica, contents), [sink], state, new ArchivePusherOptions(), TimeProvider.System);
            await pusher.RunOnceAsync(flush: true, CancellationToken.None);
        }
        Directory.Delete(Path.Combine(_dir, "content"), recursive: true);

        var output = Path.Combine(_dir, "out");
        var (code, lines, _) = await RunAsync(["archive", "restore", "--group", group, "--sink", "dir:" + sinkPath, "--out", output, "--json"]);
        Assert.That(code, Is.Zero);
        Assert.That((lines[^1].GetProperty("restored").GetInt32(), lines[^1].GetProperty("attachments").GetInt32(), lines[^1].GetProperty("missingAttachments").GetInt32()),
            Is.EqualTo((1, 1, 0)));
        Assert.That(ContentReference.FromBlob(await File.ReadAllBytesAsync(Path.Combine(output, referenceId))).Id, Is.EqualTo(contentId));
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(output, "attachments", contentId.ToString(), "report.pdf")), Is.EqualTo(attachment));

        (code, lines, _) = await RunAsync(["archive", "verify", "--sink", "dir:" + sinkPath, "--sample", "100", "--json"]);
        Assert.That(code, Is.Zero);
        Assert.That((lines[0].GetProperty("contents").GetInt32(), lines[0].GetProperty("contentsVerified").GetInt32()), Is.EqualTo((1, 1)));

        // The archived content damaged: verify names it, restore still writes the reference but reports the attachment missing.
        var stored = Directory.EnumerateFiles(Path.Combine(sinkPath, "c"), "*", SearchOption.AllDirectories).Single();
        var bytes = await File.ReadAllBytesAsync(stored);
        bytes[^100] ^= 1;
        await File.WriteAllBytesAsync(stored, bytes);
        (code, lines, _) = await RunAsync(["archive", "verify", "--sink", "dir:" + sinkPath, "--sample", "100", "--json"]);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(lines[0].GetProperty("corrupt").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { Path.GetFileName(stored) }));
        (code, lines, _) = await RunAsync(["archive", "restore", "--group", group, "--sink", "dir:" + sinkPath, "--out", Path.Combine(_dir, "out2"), "--json"]);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(lines[^1].GetProperty("missingAttachments").GetInt32(), Is.EqualTo(1));
    }

    [TestCase("verify", "--sink", "ftp://x", "--sample", "5")]
    [TestCase("verify", "--sink", "peers")]
    [TestCase("verify", "--sink", "dir:/tmp/x", "--sample", "0")]
    [TestCase("restore", "--group", "/nonexistent-group", "--sink", "dir:/tmp/x", "--out", "/tmp/o")]
    public async Task Bad_input_is_named_on_stderr_with_exit_code_2(params string[] args)
    {
        var (code, _, error) = await RunAsync(["archive", .. args]);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.StartWith("error: "));
    }

    private static async Task<(int Code, JsonElement[] Lines, string Error)> RunAsync(string[] args)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var root = new System.CommandLine.RootCommand { ArchiveCommands.Create() };
        var code = await root.Parse(args).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = error }, timeout.Token);
        var lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();
        return (code, lines, error.Text);
    }
}
