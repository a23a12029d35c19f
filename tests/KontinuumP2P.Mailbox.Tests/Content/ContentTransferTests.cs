using System.Text;
using KontinuumP2P.Mailbox.Content;

namespace KontinuumP2P.Mailbox.Tests.Content;

/// <summary>Uploads and downloads over real TCP hosts with mailbox and content servers side by side.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ContentTransferTests
{
    private const int ChunkSize = 64 << 10;
    private static readonly ContentClientOptions Options = new() { ChunkSize = ChunkSize, FetchBatch = 4, RequestTimeout = TimeSpan.FromSeconds(30) };

    [Test]
    public async Task Upload_to_two_holders_then_download_from_both_gives_the_same_bytes()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var fleet = await ContentFleet.StartAsync(2);
        var source = fleet.NewFile("album.bin", (40 * ChunkSize) + 1234, seed: 1);
        var sender = new ContentClient(await fleet.ClientHostAsync(), Options);
        var upload = await sender.UploadAsync(source, fleet.Holders(), cancellationToken: timeout.Token);
        Assert.That(upload.Stored, Has.Count.EqualTo(2));
        Assert.That(upload.ChunksSent, Is.EqualTo(2 * 41));

        // The reference travels as a blob's plaintext; the receiver rebuilds it from those bytes.
        var reference = ContentReference.FromBlob(upload.Reference.ToBlob());
        var receiver = new ContentClient(await fleet.ClientHostAsync(), Options);
        var output = Path.Combine(fleet.Directory, "out.bin");
        var download = await receiver.DownloadAsync(reference, fleet.Holders(), output, cancellationToken: timeout.Token);
        Assert.That(File.ReadAllBytes(output), Is.EqualTo(File.ReadAllBytes(source)));
        Assert.That(download.ChunksFetched, Is.EqualTo(41));
        Assert.That(download.FetchedFrom, Has.Count.EqualTo(2), "both holders served chunks in parallel");
        Assert.That(File.Exists(output + ".part"), Is.False);
        Assert.That(fleet.Nodes[0].Content!.Store.Count, Is.EqualTo(1));
    }

    [Test]
    public async Task A_corrupted_chunk_from_one_holder_is_detected_and_fetched_from_the_other()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        // Holder 0 serves what is on its disk without re-hashing it, as a faulty or hostile node would.
        await using var fleet = await ContentFleet.StartAsync(2, (i, o) => i == 0 ? o with { Store = o.Store with { VerifyOnRead = false } } : o);
        var source = fleet.NewFile("doc.bin", 12 * ChunkSize, seed: 2);
        var upload = await new ContentClient(await fleet.ClientHostAsync(), Options).UploadAsync(source, fleet.Holders(), cancellationToken: timeout.Token);
        var folder = Path.Combine(fleet.Nodes[0].ContentDirectory, upload.Reference.Id.ToHex());
        foreach (var index in new[] { 0, 5, 11 })
        {
            var chunk = Path.Combine(folder, $"{index}.c");
            var bytes = File.ReadAllBytes(chunk);
            bytes[100] ^= 0x40;
            File.WriteAllBytes(chunk, bytes);
        }
        var output = Path.Combine(fleet.Directory, "doc.out");
        // Only holder 0 first, so it is certainly asked for the corrupted chunks; then both.
        var onlyCorrupt = new ContentClient(await fleet.ClientHostAsync(), Options);
        var refused = Assert.ThrowsAsync<ContentException>(() => onlyCorrupt.DownloadAsync(upload.Reference, fleet.Holders(0), output, cancellationToken: timeout.Token));
        Assert.That(refused!.Code, Is.EqualTo(ContentErrorCode.Unavailable));
        var download = await onlyCorrupt.DownloadAsync(upload.Reference, fleet.Holders(0, 1), output, cancellationToken: timeout.Token);
        Assert.That(File.ReadAllBytes(output), Is.EqualTo(File.ReadAllBytes(source)));
        Assert.That(download.ChunksResumed, Is.EqualTo(9), "the good chunks of the failed attempt were kept");
        Assert.That(download.ChunksFetched, Is.EqualTo(3));
        Assert.That(download.FetchedFrom[fleet.Nodes[1].PeerId], Is.EqualTo(3), "the corrupted chunks came from the other holder");
    }

    [Test]
    public async Task A_transfer_killed_at_60_percent_resumes_fetching_only_the_missing_chunks()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var fleet = await ContentFleet.StartAsync(1);
        const int chunks = 50;
        var source = fleet.NewFile("video.bin", chunks * ChunkSize, seed: 3);
        var upload = await new ContentClient(await fleet.ClientHostAsync(), Options).UploadAsync(source, fleet.Holders(), cancellationToken: timeout.Token);
        var output = Path.Combine(fleet.Directory, "video.out");
        using var kill = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        var killedAt = 0;
        var progress = new SynchronousProgress(p =>
        {
            if (p.ChunksDone >= chunks * 6 / 10 && Interlocked.CompareExchange(ref killedAt, p.ChunksDone, 0) == 0) kill.Cancel();
        });
        var first = new ContentClient(await fleet.ClientHostAsync(), Options with { StreamsPerHolder = 1 });
        Assert.CatchAsync<OperationCanceledException>(() => first.DownloadAsync(upload.Reference, fleet.Holders(), output, progress, kill.Token));
        Assert.That(File.Exists(output), Is.False);
        Assert.That(File.Exists(output + ".part"), Is.True);

        var second = new ContentClient(await fleet.ClientHostAsync(), Options);
        var resumed = await second.DownloadAsync(upload.Reference, fleet.Holders(), output, cancellationToken: timeout.Token);
        Assert.That(File.ReadAllBytes(output), Is.EqualTo(File.ReadAllBytes(source)));
        Assert.That(resumed.ChunksResumed, Is.GreaterThanOrEqualTo(killedAt), "every chunk verified before the kill was kept");
        Assert.That(resumed.ChunksResumed, Is.LessThan(chunks));
        Assert.That(resumed.ChunksFetched, Is.EqualTo(chunks - resumed.ChunksResumed), "only the missing chunks were fetched");
    }

    [Test]
    public async Task Quota_size_limit_and_capability_refusals_are_distinct()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var fleet = await ContentFleet.StartAsync(2, (i, o) => i == 0
            ? o with { Store = o.Store with { MaxStoreBytes = 8 * ChunkSize } }
            : o with { Store = o.Store with { Limits = new ContentLimits { MaxContentBytes = 4 * ChunkSize } } });
        var client = new ContentClient(await fleet.ClientHostAsync(), Options);
        var source = fleet.NewFile("big.bin", 10 * ChunkSize, seed: 4);
        var quota = Assert.ThrowsAsync<ContentException>(() => client.UploadAsync(source, fleet.Holders(0), cancellationToken: timeout.Token));
        Assert.That(quota!.Code, Is.EqualTo(ContentErrorCode.QuotaExceeded));
        Assert.That(fleet.Nodes[0].Content!.Store.Bytes, Is.Zero, "a refused begin reserves nothing");
        var size = Assert.ThrowsAsync<ContentException>(() => client.UploadAsync(source, fleet.Holders(1), cancellationToken: timeout.Token));
        Assert.That(size!.Code, Is.EqualTo(ContentErrorCode.ContentTooLarge));
        var local = new ContentClient(await fleet.ClientHostAsync(), Options with { Limits = new ContentLimits { MaxContentBytes = ChunkSize } });
        var own = Assert.ThrowsAsync<ContentException>(() => local.UploadAsync(source, fleet.Holders(0), cancellationToken: timeout.Token));
        Assert.That(own!.Code, Is.EqualTo(ContentErrorCode.ContentTooLarge));

        // A capability that does not open the mailbox at that node is refused.
        var small = fleet.NewFile("small.bin", ChunkSize, seed: 5);
        await client.UploadAsync(small, fleet.Holders(1), cancellationToken: timeout.Token);
        var holder = fleet.Holders(1)[0];
        var forged = holder with { Mailbox = holder.Mailbox! with { Capability = new byte[32] } };
        var denied = Assert.ThrowsAsync<ContentException>(() => client.UploadAsync(small, [forged], cancellationToken: timeout.Token));
        Assert.That(denied!.Code, Is.EqualTo(ContentErrorCode.Unauthorized));
    }

    [Test]
    public async Task No_store_file_holds_plaintext_and_chunks_survive_a_restart()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var fleet = await ContentFleet.StartAsync(1);
        var marker = Encoding.ASCII.GetBytes("KONTINUUM-PLAINTEXT-MARKER-7f3a");
        var source = fleet.NewFile("secret.bin", 20 * ChunkSize, seed: 6, marker);
        var client = new ContentClient(await fleet.ClientHostAsync(), Options);
        var upload = await client.UploadAsync(source, fleet.Holders(), cancellationToken: timeout.Token);
        await client.DownloadAsync(upload.Reference, fleet.Holders(), Path.Combine(fleet.Directory, "copy.bin"), cancellationToken: timeout.Token);
        var node = fleet.Nodes[0];
        await node.StopAsync();
        var files = node.StoreFiles.ToList();
        Assert.That(files.Count(f => f.EndsWith(".c", StringComparison.Ordinal)), Is.EqualTo(20));
        foreach (var file in files)
        {
            Assert.That(File.ReadAllBytes(file).AsSpan().IndexOf(marker), Is.EqualTo(-1), $"{file} holds plaintext");
            Assert.That(Path.GetFileName(file), Does.Not.Contain("secret"));
        }

        // Restarted on the same folder: every acknowledged chunk is still held.
        await node.StartAsync();
        Assert.That(node.Content!.Store.Find(upload.Reference.Id)?.Have.Cast<bool>().All(b => b), Is.True);
    }

    private sealed class SynchronousProgress(Action<ContentProgress> report) : IProgress<ContentProgress>
    {
        public void Report(ContentProgress value) => report(value);
    }
}
