using System.Collections.Concurrent;
using System.Diagnostics;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Mailbox.Tests.Crash;

/// <summary>
/// A mailbox server in a child process (tests/KontinuumP2P.Mailbox.CrashHost) on TCP, pushed to from this process,
/// killed with SIGKILL at random moments 20 times and restarted: every acknowledged push must survive with its
/// cursor, cursors must have no gaps, no blob may be stored twice and the database must pass integrity_check.
/// </summary>
[TestFixture]
[Category("Slow")]
[NonParallelizable]
public sealed class MailboxCrashSafetyTests
{
    private const int Rounds = 20;
    private const int Pushers = 32;

    [Test]
    public async Task Every_acknowledged_push_survives_SIGKILL_with_gapless_cursors()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var directory = Path.Combine(Path.GetTempPath(), "kp-mbx-crash-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var database = Path.Combine(directory, "mailbox.db");
        var random = new Random(20261204);
        var credentials = Credentials.Random();
        var acked = new ConcurrentDictionary<string, ulong>();
        var epochs = new HashSet<ulong>();
        using var identity = Ed25519Identity.Generate();
        await using var client = new PeerHost(new PeerHostOptions { Identity = identity, Transports = [new TcpTransport()] });
        try
        {
            for (var round = 0; round < Rounds; round++)
            {
                using var child = CrashProcesses.Start(database);
                var address = await CrashProcesses.ReadyAsync(child, timeout.Token);
                var connection = await client.DialAsync(address, timeout.Token);
                var session = await MailboxSession.ConnectAsync(client, connection.RemotePeer, null, timeout.Token);
                using var stopPushing = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                try
                {
                    var open = await session.OpenAsync(credentials.MailboxId, credentials.Capability, credentials.DeviceId, default, timeout.Token);
                    epochs.Add(open.Epoch);
                    Assert.That(open.MaxCursor, Is.GreaterThanOrEqualTo((ulong)acked.Count), "the restarted server lost acknowledged blobs");
                    var pushers = Enumerable.Range(0, Pushers).Select(_ => PushUntilFailureAsync(session, acked, stopPushing.Token)).ToArray();
                    // The kill lands anywhere from the first pushes to well into the stream of commits.
                    await Task.Delay(random.Next(5, 400), timeout.Token);
                    child.Kill();
                    await child.WaitForExitAsync(timeout.Token);
                    await Task.WhenAll(pushers).WaitAsync(TimeSpan.FromSeconds(30), timeout.Token);
                }
                finally
                {
                    await stopPushing.CancelAsync();
                    await session.DisposeAsync();
                    await client.DisconnectAsync(connection.RemotePeer, timeout.Token);
                    if (!child.HasExited) child.Kill();
                }
            }

            Assert.That(acked, Has.Count.GreaterThan(Rounds), "the pushers got acknowledgements before the kills");
            Assert.That(epochs, Has.Count.EqualTo(1), "restarts keep the store's epoch");
            SqliteConnection.ClearAllPools();
            await using var check = new SqliteConnection($"Data Source={database};Pooling=False");
            await check.OpenAsync(timeout.Token);
            await using (var integrity = check.CreateCommand())
            {
                integrity.CommandText = "PRAGMA integrity_check";
                Assert.That(await integrity.ExecuteScalarAsync(timeout.Token), Is.EqualTo("ok"));
            }
            var stored = new List<(ulong Cursor, string Id)>();
            await using (var read = check.CreateCommand())
            {
                read.CommandText = "SELECT k, blob_id FROM blobs ORDER BY k";
                await using var reader = await read.ExecuteReaderAsync(timeout.Token);
                while (await reader.ReadAsync(timeout.Token))
                    stored.Add(((ulong)(reader.GetInt64(0) & ((1L << 36) - 1)), Convert.ToHexString((byte[])reader[1])));
            }
            Assert.Multiple(() =>
            {
                Assert.That(stored.Select(s => s.Cursor), Is.EqualTo(Enumerable.Range(1, stored.Count).Select(i => (ulong)i)), "cursors have gaps");
                Assert.That(stored.Select(s => s.Id).Distinct().Count(), Is.EqualTo(stored.Count), "a blob was stored twice");
                var byId = stored.ToDictionary(s => s.Id, s => s.Cursor);
                var lost = acked.Where(a => !byId.TryGetValue(a.Key, out var cursor) || cursor != a.Value).ToList();
                Assert.That(lost, Is.Empty, $"{lost.Count} of {acked.Count} acknowledged blobs lost or moved");
            });
            TestContext.Out.WriteLine($"{Rounds} SIGKILLs: {acked.Count} acknowledged, {stored.Count} stored (the rest were in flight when killed)");
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, true);
        }
    }

    private static async Task PushUntilFailureAsync(MailboxSession session, ConcurrentDictionary<string, ulong> acked, CancellationToken cancellationToken)
    {
        // Bounded: the kill comes within a second; this stops at 100,000 pushes in any case.
        for (var i = 0; i < 100_000 && !cancellationToken.IsCancellationRequested; i++)
        {
            var blob = Blobs.Make();
            try
            {
                var result = await session.PushAsync(blob, cancellationToken);
                Assert.That(result.Duplicate, Is.False);
                acked[Convert.ToHexString(blob.Id)] = result.Cursor;
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or TimeoutException or InvalidOperationException)
            {
                return;
            }
        }
    }
}
