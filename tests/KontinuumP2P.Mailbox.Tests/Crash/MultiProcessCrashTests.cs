using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Tests.Client;

namespace KontinuumP2P.Mailbox.Tests.Crash;

/// <summary>
/// Crash safety across processes. (1) Three mailbox servers run as child processes (CrashHost, same key, port and
/// database on every restart) and are SIGKILLed at random moments while a group client pushes: after the outbox
/// drains, every acknowledged (mailbox, cursor) holds its blob, each mailbox holds every blob exactly once with gapless
/// cursors, and another device applies each blob once. (2) The pushing client itself runs as a child and is SIGKILLed
/// mid-push again and again: every blob it reported accepted reaches every mailbox exactly once.
/// </summary>
[TestFixture]
[Category("Slow")]
[NonParallelizable]
public sealed class MultiProcessCrashTests
{
    private readonly List<string> _dirs = [];

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var dir in _dirs.Where(Directory.Exists)) Directory.Delete(dir, recursive: true);
        _dirs.Clear();
    }

    private string NewDirectory(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N"));
        _dirs.Add(dir);
        return dir;
    }

    [Test]
    public async Task Mailbox_processes_killed_with_SIGKILL_mid_push_lose_and_duplicate_nothing()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var ct = timeout.Token;
        const int blobs = 1200;
        var random = new Random(20261205);
        await using var certs = await MailboxFleet.StartAsync(0); // only its anchor, certificates and client hosts
        var directory = NewDirectory("kp-mbx-mpcrash-");
        Directory.CreateDirectory(directory);
        var servers = Enumerable.Range(0, 3).Select(i => new ServerProcess($"mbx-{(char)('a' + i)}", Path.Combine(directory, $"server-{i}.db"))).ToList();
        try
        {
            foreach (var server in servers)
            {
                server.Certificate = certs.Issue(server.Identity, ["dht", "mailbox"], "provider-" + server.Slot).Encode();
                await server.StartAsync(ct);
            }
            var resolver = new PeerMailboxResolver(
                (peer, _) => Task.FromResult(servers.Where(s => s.PeerId.Equals(peer))
                    .Select(s => new MailboxEndpoint(peer, [s.Address], KontinuumP2P.Certs.Certificates.Certificate.Decode(s.Certificate))).FirstOrDefault()),
                servers.ToDictionary(s => s.Slot, s => s.PeerId));
            using var secret = GroupSecret.Generate();
            using var storeA = GroupStore.Create(NewDirectory("kp-group-"), secret, "test", [.. servers.Select(s => s.Slot)], 1);
            using var storeB = GroupStore.Create(NewDirectory("kp-group-"), secret, "test", [.. servers.Select(s => s.Slot)], 1);
            var options = MailboxFleet.FastOptions with { PushTimeout = TimeSpan.FromSeconds(5), ConnectTimeout = TimeSpan.FromSeconds(2) };
            await using var a = new GroupClient(storeA, await certs.ClientHostAsync(), resolver, certs.Verifier, options);

            // Kills land on mbx-a and mbx-b (never both down at once) while the pushes run; mbx-c stays up.
            var acked = new ConcurrentBag<(string Slot, ulong Cursor, string Id)>();
            var pushed = new ConcurrentDictionary<BlobId, string>();
            var progress = 0;
            using var stopKilling = new CancellationTokenSource();
            var kills = 0;
            var killer = Task.Run(async () =>
            {
                for (var kill = 0; kill < 8 && !stopKilling.IsCancellationRequested; kill++)
                {
                    await Task.Delay(random.Next(50, 500), ct);
                    var victim = servers[kill % 2];
                    await CrashProcesses.KillAsync(victim.Process!, ct);
                    kills++;
                    await victim.StartAsync(ct);
                }
            }, ct);
            await Parallel.ForAsync(0, blobs, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (i, token) =>
            {
                var outcome = await a.PushAsync(Encoding.UTF8.GetBytes($"blob {i}"), token);
                var hex = Convert.ToHexString(outcome.Id.Digest);
                pushed[outcome.Id] = hex;
                foreach (var ack in outcome.Acked) acked.Add((ack.Slot, ack.Cursor, hex));
                Interlocked.Increment(ref progress);
            });
            await stopKilling.CancelAsync();
            await killer;
            for (var round = 0; round < 20 && storeA.OutboxCount() > 0; round++) await a.FlushAsync(all: true, ct);
            Assert.That(storeA.OutboxCount(), Is.Zero, "the outbox drains once every mailbox is back");

            await using (var b = new GroupClient(storeB, await certs.ClientHostAsync(), resolver, certs.Verifier, options))
            {
                var received = new ConcurrentDictionary<BlobId, int>();
                var pull = await b.PullAsync((blob, _) =>
                {
                    received.AddOrUpdate(blob.Id, 1, (_, n) => n + 1);
                    return ValueTask.CompletedTask;
                }, ack: false, ct);
                Assert.That(pull.Unreachable, Is.Empty);
                Assert.That(received.Keys, Is.EquivalentTo(pushed.Keys), "the other device got every blob");
                Assert.That(received.Values, Is.All.EqualTo(1), "and each once");
            }
            await a.DisposeAsync();

            foreach (var server in servers) await CrashProcesses.KillAsync(server.Process!, ct);
            foreach (var server in servers)
            {
                var stored = await CrashProcesses.ReadStoreAsync(server.Database, ct);
                CrashProcesses.AssertGaplessAndUnique(stored, server.Slot);
                Assert.That(stored.Select(s => s.Id), Is.EquivalentTo(pushed.Values), $"{server.Slot} holds every blob once");
                var byCursor = stored.ToDictionary(s => s.Cursor, s => s.Id);
                var lost = acked.Where(x => x.Slot == server.Slot && (!byCursor.TryGetValue(x.Cursor, out var id) || id != x.Id)).ToList();
                Assert.That(lost, Is.Empty, $"{server.Slot}: acknowledged blobs lost or moved");
            }
            Assert.That(kills, Is.GreaterThanOrEqualTo(2), "the servers were killed while the pushes ran");
            TestContext.Out.WriteLine($"{kills} SIGKILLs of mailbox processes during {blobs} pushes; {acked.Count} acknowledgements checked");
        }
        finally
        {
            foreach (var server in servers)
            {
                if (server.Process is { HasExited: false } p) p.Kill();
                server.Dispose();
            }
        }
    }

    [Test]
    public async Task A_pushing_client_killed_with_SIGKILL_delivers_every_accepted_blob_exactly_once()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var ct = timeout.Token;
        const int rounds = 8;
        var random = new Random(20261206);
        await using var fleet = await MailboxFleet.StartAsync(3, configure: o => o with { PushesPerMinute = 1_000_000, RequestsPerSecond = 1_000_000 });
        var groupA = NewDirectory("kp-group-");
        var groupB = NewDirectory("kp-group-");
        using (var secret = GroupSecret.Generate())
        {
            GroupStore.Create(groupA, secret, "test", fleet.Slots, 1).Dispose();
            GroupStore.Create(groupB, secret, "test", fleet.Slots, 1).Dispose();
        }
        var fleetFile = Path.Combine(NewDirectory("kp-fleet-"), "fleet.json");
        Directory.CreateDirectory(Path.GetDirectoryName(fleetFile)!);
        await File.WriteAllTextAsync(fleetFile, JsonSerializer.Serialize(new
        {
            AnchorPublicKey = Convert.ToHexString(fleet.AnchorPublicKey),
            Servers = fleet.Servers.Select(s => new { s.Slot, Address = s.Address.WithPeerId(s.PeerId).ToString(), Certificate = Convert.ToBase64String(s.Certificate.Encode()) }),
        }), ct);

        var accepted = new Dictionary<string, string>(); // blob id hex -> plaintext
        var killedMidPush = 0;
        for (var run = 0; run <= rounds; run++)
        {
            // The last run is not killed: it only retries the outbox left by the killed ones.
            var last = run == rounds;
            using var child = CrashProcesses.Start("client", groupA, fleetFile, run.ToString(System.Globalization.CultureInfo.InvariantCulture), last ? "0" : "100000");
            var lines = new List<string>();
            var firstAccepted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var reading = Task.Run(async () =>
            {
                while (await child.StandardOutput.ReadLineAsync(ct) is { } line)
                {
                    lock (lines) lines.Add(line);
                    if (line.StartsWith("ACCEPTED ", StringComparison.Ordinal)) firstAccepted.TrySetResult();
                }
            }, ct);
            if (!last)
            {
                // Killed anywhere from just after its first accepted push to well into the run.
                await firstAccepted.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
                await Task.Delay(random.Next(0, 600), ct);
                await CrashProcesses.KillAsync(child, ct);
                killedMidPush++;
            }
            else
            {
                await child.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(90), ct);
                Assert.That(child.ExitCode, Is.Zero, await child.StandardError.ReadToEndAsync(ct));
            }
            await reading.WaitAsync(TimeSpan.FromSeconds(30), ct);
            foreach (var line in lines.Where(l => l.StartsWith("ACCEPTED ", StringComparison.Ordinal)))
            {
                var parts = line.Split(' ');
                accepted.Add(parts[3], $"run {parts[1]} blob {parts[2]}");
            }
            if (last) Assert.That(lines, Does.Contain("DONE"));
        }
        using (var store = GroupStore.Open(groupA)) Assert.That(store.OutboxCount(), Is.Zero, "the last run emptied the outbox");

        using var storeB = GroupStore.Open(groupB);
        await using (var b = await fleet.DeviceAsync(storeB))
        {
            var received = new ConcurrentDictionary<string, int>();
            var pull = await b.PullAsync((blob, _) =>
            {
                received.AddOrUpdate(Encoding.UTF8.GetString(blob.Plaintext.Span), 1, (_, n) => n + 1);
                return ValueTask.CompletedTask;
            }, ack: false, ct);
            Assert.That(pull.Unreachable, Is.Empty);
            Assert.That(received.Values, Is.All.EqualTo(1), "nothing applied twice");
            var missing = accepted.Values.Where(p => !received.ContainsKey(p)).ToList();
            Assert.That(missing, Is.Empty, $"{missing.Count} of {accepted.Count} accepted blobs never arrived");
        }
        foreach (var server in fleet.Servers)
        {
            await server.StopAsync();
            var stored = await CrashProcesses.ReadStoreAsync(server.Database, ct);
            CrashProcesses.AssertGaplessAndUnique(stored, server.Slot);
            var ids = stored.Select(s => s.Id).ToHashSet();
            Assert.That(accepted.Keys.Where(id => !ids.Contains(id)), Is.Empty, $"{server.Slot} lacks accepted blobs");
        }
        Assert.That(killedMidPush, Is.EqualTo(rounds));
        TestContext.Out.WriteLine($"{rounds} SIGKILLs of the pushing client; {accepted.Count} blobs reported accepted, all delivered once to each mailbox");
    }

    private sealed class ServerProcess(string slot, string database) : IDisposable
    {
        private readonly byte[] _seed = RandomNumberGenerator.GetBytes(32);
        private readonly int _port = CrashProcesses.FreePort();

        public string Slot { get; } = slot;

        public string Database { get; } = database;

        public Ed25519Identity Identity => field ??= Ed25519Identity.FromSeed(_seed);

        public PeerId PeerId => Identity.PeerId;

        public Multiaddr Address => Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{_port}");

        public byte[] Certificate { get; set; } = [];

        public Process? Process { get; private set; }

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            Process?.Dispose();
            Process = CrashProcesses.Start(Database, Convert.ToHexString(_seed), _port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var ready = await CrashProcesses.ReadyAsync(Process, cancellationToken);
            Assert.That(ready.PeerId, Is.EqualTo(PeerId), "the restarted server is the same peer");
        }

        public void Dispose()
        {
            Process?.Dispose();
            Identity.Dispose();
        }
    }
}
