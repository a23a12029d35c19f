using System.Buffers;
using Google.Protobuf;
using KontinuumP2P.Certs.Hashing;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Protos.Content;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Mailbox.Tests.Content;

/// <summary>Refusals on the wire, and the store's TTL.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ContentProtocolTests
{
    [Test]
    public async Task Bad_requests_get_distinct_refusals_and_an_oversized_frame_closes_only_its_stream()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await using var fleet = await ContentFleet.StartAsync(1);
        var client = await fleet.ClientHostAsync();
        var holder = fleet.Holders()[0];
        var unknown = ByteString.CopyFrom(new byte[32]);
        await using (var channel = await ContentChannel.OpenAsync(client, holder, TimeSpan.FromSeconds(30), timeout.Token))
        {
            Assert.That(await RefusalAsync(channel, new ContentRequest { Manifest = new GetManifest { ContentId = unknown } }, timeout.Token),
                Is.EqualTo(ContentErrorCode.UnknownContent));
            Assert.That(await RefusalAsync(channel, new ContentRequest { Put = new PutChunk { ContentId = unknown, Index = 0, Data = ByteString.CopyFrom(new byte[20]) } }, timeout.Token),
                Is.EqualTo(ContentErrorCode.Unauthorized), "a put before begin on this stream");
            var file = fleet.NewFile("f.bin", 20_000, seed: 9);
            var upload = await new ContentClient(client, new ContentClientOptions { ChunkSize = 4096 }).UploadAsync(file, [holder], cancellationToken: timeout.Token);
            var id = ByteString.CopyFrom(upload.Reference.Id.Digest);
            Assert.That(await RefusalAsync(channel, new ContentRequest { Fetch = new Fetch { ContentId = id, First = 3, Count = 3 } }, timeout.Token),
                Is.EqualTo(ContentErrorCode.BadRange), "a range past the last chunk");
            Assert.That(await RefusalAsync(channel, new ContentRequest { Fetch = new Fetch { ContentId = id, First = 0, Count = 0 } }, timeout.Token),
                Is.EqualTo(ContentErrorCode.BadRange));
            var manifest = await FetchManifestAsync(channel, id, timeout.Token);
            Assert.That(await RefusalAsync(channel, new ContentRequest
            {
                Begin = new Begin
                {
                    MailboxId = ByteString.CopyFrom(holder.Mailbox!.MailboxId),
                    Capability = ByteString.CopyFrom(holder.Mailbox.Capability),
                    DeviceId = ByteString.CopyFrom(holder.DeviceId),
                    Manifest = ByteString.CopyFrom(manifest.AsSpan(0, manifest.Length - 1)),
                },
            }, timeout.Token), Is.EqualTo(ContentErrorCode.BadManifest));
            // The stream still serves after those refusals.
            Assert.That((await FetchManifestAsync(channel, id, timeout.Token)).Length, Is.EqualTo(manifest.Length));
        }

        // A frame declaring more than the cap is refused before anything is buffered; the connection lives on.
        var raw = await client.NewStreamAsync(fleet.Nodes[0].PeerId, [ContentProtocol.ProtocolId], timeout.Token);
        var prefix = new ArrayBufferWriter<byte>();
        Varint.Write(prefix, (ulong)ContentProtocol.MaxFrameBytes + 1);
        await raw.Output.WriteAsync(prefix.WrittenMemory, timeout.Token);
        var answer = await MailboxFrames.ReadAsync(raw.Input, ContentResponse.Parser, ContentProtocol.MaxFrameBytes, timeout.Token);
        Assert.That((ContentErrorCode)answer!.Error.Code, Is.EqualTo(ContentErrorCode.Malformed));
        Assert.That(await MailboxFrames.ReadAsync(raw.Input, ContentResponse.Parser, ContentProtocol.MaxFrameBytes, timeout.Token), Is.Null, "the stream is closed");
        await raw.DisposeAsync();
        await using var again = await ContentChannel.OpenAsync(client, holder, TimeSpan.FromSeconds(30), timeout.Token);
        Assert.That(await RefusalAsync(again, new ContentRequest { Manifest = new GetManifest { ContentId = unknown } }, timeout.Token),
            Is.EqualTo(ContentErrorCode.UnknownContent));
    }

    [Test]
    public async Task Contents_expire_after_their_ttl_and_release_their_quota()
    {
        var directory = Path.Combine(Path.GetTempPath(), "kp-content-ttl-" + Guid.NewGuid().ToString("N"));
        try
        {
            var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
            var store = ContentStore.Open(new ContentStoreOptions { Directory = directory, Ttl = TimeSpan.FromHours(1) }, time);
            var chunk = new byte[4096 + ContentCipher.TagLength];
            Random.Shared.NextBytes(chunk);
            var manifest = ContentManifest.Create(4096, 4096, Blake3.Hash(chunk), new ContentLimits());
            await store.BeginAsync(manifest, CancellationToken.None);
            await store.PutChunkAsync(manifest.Id, 0, chunk, CancellationToken.None);
            Assert.That(store.Bytes, Is.GreaterThan(0));
            time.Advance(TimeSpan.FromMinutes(59));
            Assert.That(store.RemoveExpired(), Is.Zero);
            time.Advance(TimeSpan.FromMinutes(2));
            Assert.That(store.RemoveExpired(), Is.EqualTo(1));
            Assert.That(store.Bytes, Is.Zero);
            Assert.That(store.Find(manifest.Id), Is.Null);
            Assert.That(Directory.GetDirectories(directory), Is.Empty);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task Streams_over_the_session_cap_are_refused()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await using var fleet = await ContentFleet.StartAsync(1, (_, o) => o with { MaxSessions = 1 });
        var client = await fleet.ClientHostAsync();
        var holder = fleet.Holders()[0];
        var unknown = ByteString.CopyFrom(new byte[32]);
        await using var first = await ContentChannel.OpenAsync(client, holder, TimeSpan.FromSeconds(30), timeout.Token);
        Assert.That(await RefusalAsync(first, new ContentRequest { Manifest = new GetManifest { ContentId = unknown } }, timeout.Token), Is.EqualTo(ContentErrorCode.UnknownContent));
        await using var second = await ContentChannel.OpenAsync(client, holder, TimeSpan.FromSeconds(30), timeout.Token);
        Assert.That(await RefusalAsync(second, new ContentRequest { Manifest = new GetManifest { ContentId = unknown } }, timeout.Token), Is.EqualTo(ContentErrorCode.TooManySessions));
        Assert.That(fleet.Nodes[0].Content!.SessionCount, Is.EqualTo(1));
    }

    [Test]
    public async Task The_cleanup_loop_removes_expired_contents_on_its_timer_and_stops_with_the_server()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var pair = await HostPair.StartAsync(tcp: true, timeout.Token);
        var directory = Path.Combine(Path.GetTempPath(), "kp-content-loop-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var mailbox = await KontinuumP2P.Mailbox.Server.MailboxServer.StartAsync(pair.Server, new KontinuumP2P.Mailbox.Server.MailboxServerOptions
            {
                Store = new KontinuumP2P.Mailbox.Storage.MailboxStoreOptions { DatabasePath = Path.Combine(directory, "m.db") },
            }, cancellationToken: timeout.Token);
            var server = ContentServer.Start(pair.Server, new ContentServerOptions
            {
                Store = new ContentStoreOptions { Directory = Path.Combine(directory, "content"), Ttl = TimeSpan.FromHours(1) },
                CleanupInterval = TimeSpan.FromMinutes(10),
            }, mailbox.Store, timeProvider: time);
            var passes = new List<int>();
            var expired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            server.CleanupPassed = removed =>
            {
                lock (passes) passes.Add(removed);
                if (removed > 0) expired.TrySetResult();
            };
            var chunk = new byte[4096 + ContentCipher.TagLength];
            var manifest = ContentManifest.Create(4096, 4096, Blake3.Hash(chunk), new ContentLimits());
            await server.Store.BeginAsync(manifest, timeout.Token);
            // Bounded: 7 ticks of 10 minutes pass the 1-hour TTL.
            for (var i = 0; i < 7 && !expired.Task.IsCompleted; i++) time.Advance(TimeSpan.FromMinutes(10));
            await expired.Task.WaitAsync(timeout.Token);
            Assert.That(server.Store.Count, Is.Zero);
            await server.DisposeAsync();
            int count;
            lock (passes) count = passes.Count;
            time.Advance(TimeSpan.FromHours(1));
            lock (passes) Assert.That(passes, Has.Count.EqualTo(count), "the loop ran after the server stopped");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<byte[]> FetchManifestAsync(ContentChannel channel, ByteString id, CancellationToken cancellationToken)
    {
        var request = await channel.SendAsync(new ContentRequest { Manifest = new GetManifest { ContentId = id } }, true, cancellationToken);
        return (await channel.ReceiveAsync(request, cancellationToken)).Manifest.Manifest.ToByteArray();
    }

    private static async Task<ContentErrorCode?> RefusalAsync(ContentChannel channel, ContentRequest request, CancellationToken cancellationToken)
    {
        var id = await channel.SendAsync(request, true, cancellationToken);
        try
        {
            await channel.ReceiveAsync(id, cancellationToken);
            return null;
        }
        catch (ContentException e)
        {
            return e.Code;
        }
    }
}
