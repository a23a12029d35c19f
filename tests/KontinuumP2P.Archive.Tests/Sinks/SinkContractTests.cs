using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Archive.Tests.Sinks;

/// <summary>What every sink must do, run against each real sink.</summary>
public abstract class SinkContractTests
{
    protected abstract Task<IArchiveSink> OpenAsync();

    private static Pack MakePack(int seed, int blobs = 5)
    {
        var random = new Random(seed);
        var builder = new PackBuilder(ArchiveKeys.Derive(TestBlobs.Key(random)));
        foreach (var b in TestBlobs.Make(random, blobs, 100, 20_000)) builder.Add(b.BlobId.Span, b.Cursor, b.Data.Span);
        return builder.Build();
    }

    [Test]
    public async Task Put_get_exists_and_list_round_trip()
    {
        await using var sink = await OpenAsync();
        var pack = MakePack(1);
        Assert.That(await sink.ExistsAsync(pack.Id, CancellationToken.None), Is.False);
        Assert.That(await sink.GetAsync(pack.Id, PackFormat.MaxPackBytes, CancellationToken.None), Is.Null);
        await sink.PutAsync(pack.Id, pack.Bytes, CancellationToken.None);
        Assert.That(await sink.ExistsAsync(pack.Id, CancellationToken.None), Is.True);
        Assert.That(await sink.GetAsync(pack.Id, PackFormat.MaxPackBytes, CancellationToken.None), Is.EqualTo(pack.Bytes));

        var manifest = ArchiveObjectId.Manifest(TestBlobs.Id([9]));
        await sink.PutAsync(manifest, new byte[] { 1, 2, 3 }, CancellationToken.None);
        var packs = new List<ArchiveObjectId>();
        await foreach (var id in sink.ListAsync(ArchiveObjectKind.Pack, CancellationToken.None)) packs.Add(id);
        var manifests = new List<ArchiveObjectId>();
        await foreach (var id in sink.ListAsync(ArchiveObjectKind.Manifest, CancellationToken.None)) manifests.Add(id);
        Assert.That(packs, Is.EqualTo(new[] { pack.Id }));
        Assert.That(manifests, Is.EqualTo(new[] { manifest }));
    }

    [Test]
    public async Task Put_is_idempotent_and_replace_overwrites()
    {
        await using var sink = await OpenAsync();
        var manifest = ArchiveObjectId.Manifest(TestBlobs.Id([7]));
        await sink.PutAsync(manifest, new byte[] { 1 }, CancellationToken.None);
        await sink.PutAsync(manifest, new byte[] { 2 }, CancellationToken.None);
        Assert.That(await sink.GetAsync(manifest, 100, CancellationToken.None), Is.EqualTo(new byte[] { 1 }), "an existing object is kept");
        await sink.ReplaceAsync(manifest, new byte[] { 3 }, CancellationToken.None);
        Assert.That(await sink.GetAsync(manifest, 100, CancellationToken.None), Is.EqualTo(new byte[] { 3 }));
        var count = 0;
        await foreach (var _ in sink.ListAsync(ArchiveObjectKind.Manifest, CancellationToken.None)) count++;
        Assert.That(count, Is.EqualTo(1));
    }

    [Test]
    public async Task A_pack_that_does_not_hash_to_its_id_is_refused_and_nothing_is_stored()
    {
        await using var sink = await OpenAsync();
        var pack = MakePack(2);
        var wrong = (byte[])pack.Bytes.Clone();
        wrong[0] ^= 1;
        Assert.ThrowsAsync<ArgumentException>(async () => await sink.PutAsync(pack.Id, wrong, CancellationToken.None));
        Assert.That(await sink.ExistsAsync(pack.Id, CancellationToken.None), Is.False);
    }

    [Test]
    public async Task Get_refuses_an_object_larger_than_asked()
    {
        await using var sink = await OpenAsync();
        var pack = MakePack(3);
        await sink.PutAsync(pack.Id, pack.Bytes, CancellationToken.None);
        Assert.ThrowsAsync<PackFormatException>(async () => await sink.GetAsync(pack.Id, pack.Bytes.Length - 1, CancellationToken.None));
    }
}

public sealed class DirectorySinkTests : SinkContractTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-dirsink-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    protected override Task<IArchiveSink> OpenAsync() => Task.FromResult<IArchiveSink>(new DirectorySink(_dir));

    [Test]
    public async Task Objects_land_in_fan_out_folders_and_no_temp_file_is_left()
    {
        await using var sink = new DirectorySink(_dir);
        var id = ArchiveObjectId.Manifest(TestBlobs.Id([5]));
        await sink.PutAsync(id, new byte[] { 5 }, CancellationToken.None);
        var hex = Convert.ToHexStringLower(id.Digest);
        Assert.That(File.Exists(Path.Combine(_dir, "m", hex[..2], hex[2..4], id.ToString())), Is.True);
        Assert.That(Directory.EnumerateFiles(Path.Combine(_dir, "tmp")), Is.Empty);
        Assert.That(ArchiveSinks.Open("dir:" + _dir).Name, Is.EqualTo(sink.Name));
    }

    [Test]
    public void Sink_text_is_parsed_or_refused_clearly()
    {
        Assert.Throws<FormatException>(() => ArchiveSinks.Open("ftp://x"));
        Assert.Throws<FormatException>(() => ArchiveSinks.Open("s3://bucket"));
        Assert.Throws<FormatException>(() => ArchiveSinks.Open("s3://bucket?endpoint=http://127.0.0.1:1/", _ => null), "no credentials");
        Assert.Throws<NotSupportedException>(() => ArchiveSinks.Open("peers"));
    }
}

[NonParallelizable]
public sealed class S3SinkTests : SinkContractTests
{
    private S3rverProcess _server = null!;
    private int _bucket;

    [OneTimeSetUp]
    public async Task StartServer() => _server = await S3rverProcess.StartAsync();

    [OneTimeTearDown]
    public async Task StopServer() => await _server.DisposeAsync();

    // Each test gets a fresh bucket, created through the SDK on the real server.
    protected override async Task<IArchiveSink> OpenAsync()
    {
        var sink = new S3Sink($"t{Interlocked.Increment(ref _bucket)}-{Guid.NewGuid():N}"[..20], _server.Endpoint, S3rverProcess.AccessKey, S3rverProcess.SecretKey);
        await sink.CreateBucketIfMissingAsync(CancellationToken.None);
        return sink;
    }

    [Test]
    public async Task Listing_pages_through_more_than_one_response()
    {
        await using var sink = (S3Sink)await OpenAsync();
        sink.ListPageSize = 10;
        var ids = Enumerable.Range(0, 35).Select(i => ArchiveObjectId.Manifest(TestBlobs.Id(BitConverter.GetBytes(i)))).ToList();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, ct) => await sink.PutAsync(id, new byte[] { 1 }, ct));
        var listed = new HashSet<ArchiveObjectId>();
        await foreach (var id in sink.ListAsync(ArchiveObjectKind.Manifest, CancellationToken.None)) listed.Add(id);
        Assert.That(listed.SetEquals(ids), Is.True);
    }

    [Test]
    public async Task The_sink_text_form_opens_the_same_bucket()
    {
        await using var sink = await OpenAsync();
        var id = ArchiveObjectId.Manifest(TestBlobs.Id([1]));
        await sink.PutAsync(id, new byte[] { 4 }, CancellationToken.None);
        var env = new Dictionary<string, string?> { ["AWS_ACCESS_KEY_ID"] = S3rverProcess.AccessKey, ["AWS_SECRET_ACCESS_KEY"] = S3rverProcess.SecretKey };
        var bucket = sink.Name[5..sink.Name.IndexOf('?', StringComparison.Ordinal)];
        await using var again = ArchiveSinks.Open($"s3://{bucket}?endpoint={_server.Endpoint}", env.GetValueOrDefault);
        Assert.That(await again.GetAsync(id, 10, CancellationToken.None), Is.EqualTo(new byte[] { 4 }));
    }
}
