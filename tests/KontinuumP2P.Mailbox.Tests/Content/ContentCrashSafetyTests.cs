using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using KontinuumP2P.Certs.Hashing;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Protos.Content;
using KontinuumP2P.Mailbox.Tests.Crash;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Mailbox.Tests.Content;

/// <summary>
/// A content server in a child process (the mailbox CrashHost with a content folder), sent chunks from this process on
/// several streams and killed with SIGKILL at random moments: after each restart every acknowledged chunk must still be
/// held, and at the end every held chunk must hash to its manifest entry.
/// </summary>
[TestFixture]
[Category("Slow")]
[NonParallelizable]
public sealed class ContentCrashSafetyTests
{
    private const int Rounds = 8;
    private const int Streams = 4;
    private const int ChunkSize = 16 << 10;
    private const int ChunkCount = 4000;

    [Test]
    public async Task Every_acknowledged_chunk_survives_SIGKILL()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var directory = Path.Combine(Path.GetTempPath(), "kp-content-crash-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var database = Path.Combine(directory, "mailbox.db");
        var contentFolder = Path.Combine(directory, "content");
        var random = new Random(20261204);
        using var keys = new GroupKeys(GroupSecret.Generate());
        var slot = keys.ForSlot("crash");
        var device = new byte[16];
        var (manifest, chunks) = MakeContent();
        var acked = new ConcurrentDictionary<int, byte>();
        using var identity = Ed25519Identity.Generate();
        await using var client = new PeerHost(new PeerHostOptions { Identity = identity, Transports = [new TcpTransport()] });
        try
        {
            for (var round = 0; round < Rounds; round++)
            {
                using var child = CrashProcesses.Start(database, contentFolder);
                var address = await CrashProcesses.ReadyAsync(child, timeout.Token);
                var connection = await client.DialAsync(address, timeout.Token);
                var holder = new ContentHolder(connection.RemotePeer, [address]);
                var have = await HeldAsync(client, holder, manifest, timeout.Token);
                var lost = acked.Keys.Where(i => have is null || !have[i]).ToList();
                Assert.That(lost, Is.Empty, $"round {round}: {lost.Count} acknowledged chunks lost");
                var next = new ConcurrentQueue<int>(Enumerable.Range(0, ChunkCount).Where(i => have is null || !have[i]).OrderBy(_ => random.Next()));
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                var firstAck = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var putters = Enumerable.Range(0, Streams).Select(_ => PutUntilFailureAsync(client, holder, slot, device, manifest, chunks, next, acked, firstAck, stop.Token)).ToArray();
                // The kill lands anywhere from the first acknowledgement to a few hundred chunks later.
                await firstAck.Task.WaitAsync(TimeSpan.FromSeconds(60), timeout.Token);
                await Task.Delay(random.Next(0, 400), timeout.Token);
                child.Kill();
                await child.WaitForExitAsync(timeout.Token);
                await Task.WhenAll(putters).WaitAsync(TimeSpan.FromSeconds(30), timeout.Token);
                await stop.CancelAsync();
                await client.DisconnectAsync(connection.RemotePeer, timeout.Token);
            }
            Assert.That(acked, Has.Count.GreaterThan(Rounds), "chunks were acknowledged before the kills");
            var store = ContentStore.Open(new ContentStoreOptions { Directory = contentFolder });
            var held = store.Find(manifest.Id)!.Value.Have;
            var buffer = new byte[ChunkSize + ContentCipher.TagLength];
            var verified = 0;
            for (var i = 0; i < ChunkCount; i++)
            {
                if (!held[i]) continue;
                Assert.That(await store.ReadChunkAsync(manifest.Id, i, buffer, timeout.Token), Is.EqualTo(ChunkSize + ContentCipher.TagLength), $"chunk {i} is damaged");
                verified++;
            }
            Assert.That(acked.Keys.All(i => held[i]), Is.True);
            Assert.That(Directory.GetFiles(contentFolder, "*.tmp", SearchOption.AllDirectories), Is.Empty, "temporary files were left after reopening");
            TestContext.Out.WriteLine($"{Rounds} SIGKILLs: {acked.Count} chunks acknowledged, {verified} held and verified");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, true);
        }
    }

    private static (ContentManifest, byte[][]) MakeContent()
    {
        var key = ContentCipher.NewKey();
        const long size = (long)ChunkSize * ChunkCount;
        using var cipher = new ContentCipher(key, size, ChunkSize, ChunkCount);
        var chunks = new byte[ChunkCount][];
        var hashes = new byte[ChunkCount * 32];
        var plain = new byte[ChunkSize];
        for (var i = 0; i < ChunkCount; i++)
        {
            Random.Shared.NextBytes(plain);
            chunks[i] = new byte[ChunkSize + ContentCipher.TagLength];
            cipher.Encrypt(i, plain, chunks[i]);
            Blake3.Hash(chunks[i], hashes.AsSpan(i * 32, 32));
        }
        return (ContentManifest.Create(size, ChunkSize, hashes, new ContentLimits()), chunks);
    }

    private static async Task<System.Collections.BitArray?> HeldAsync(PeerHost client, ContentHolder holder, ContentManifest manifest, CancellationToken cancellationToken)
    {
        await using var channel = await ContentChannel.OpenAsync(client, holder, TimeSpan.FromSeconds(30), cancellationToken);
        var id = await channel.SendAsync(new ContentRequest { Manifest = new GetManifest { ContentId = ByteString.CopyFrom(manifest.Id.Digest) } }, true, cancellationToken);
        try
        {
            var answer = await channel.ReceiveAsync(id, cancellationToken);
            return new System.Collections.BitArray(answer.Manifest.Have.ToByteArray());
        }
        catch (ContentException e) when (e.Code == ContentErrorCode.UnknownContent)
        {
            return null;
        }
    }

    private static async Task PutUntilFailureAsync(PeerHost client, ContentHolder holder, SlotKeys slot, byte[] device, ContentManifest manifest, byte[][] chunks,
        ConcurrentQueue<int> next, ConcurrentDictionary<int, byte> acked, TaskCompletionSource firstAck, CancellationToken cancellationToken)
    {
        try
        {
            await using var channel = await ContentChannel.OpenAsync(client, holder, TimeSpan.FromSeconds(30), cancellationToken);
            var begin = await channel.SendAsync(new ContentRequest
            {
                Begin = new Begin
                {
                    MailboxId = ByteString.CopyFrom(slot.MailboxId),
                    Capability = ByteString.CopyFrom(slot.Capability),
                    DeviceId = ByteString.CopyFrom(device),
                    Manifest = ByteString.CopyFrom(manifest.Bytes),
                },
            }, true, cancellationToken);
            await channel.ReceiveAsync(begin, cancellationToken);
            // Bounded by the chunk count; the kill comes well before.
            while (next.TryDequeue(out var index))
            {
                var id = await channel.SendAsync(new ContentRequest
                {
                    Put = new PutChunk { ContentId = ByteString.CopyFrom(manifest.Id.Digest), Index = (uint)index, Data = ByteString.CopyFrom(chunks[index]) },
                }, true, cancellationToken);
                await channel.ReceiveAsync(id, cancellationToken);
                acked[index] = 0;
                firstAck.TrySetResult();
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException or InvalidDataException)
        {
            // The server was killed.
        }
    }
}
