using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Mailbox.Tests.Client;

/// <summary>
/// The group client against real mailbox servers (libp2p hosts on TCP 127.0.0.1, SQLite files): fan-out, outbox and
/// flush, failover, dedup across mailboxes and across a store reset, certificate checks, rotation, privacy.
/// </summary>
[NonParallelizable]
public sealed class GroupClientEndToEndTests
{
    private readonly List<string> _dirs = [];
    private readonly List<IDisposable> _stores = [];

    [TearDown]
    public void TearDown()
    {
        foreach (var store in _stores) store.Dispose();
        _stores.Clear();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var dir in _dirs.Where(Directory.Exists)) Directory.Delete(dir, recursive: true);
        _dirs.Clear();
    }

    private GroupStore NewGroup(MailboxFleet fleet, int requiredAcks = 1, GroupSecret? secret = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "kp-group-" + Guid.NewGuid().ToString("N"));
        _dirs.Add(dir);
        using var own = secret is null ? GroupSecret.Generate() : null;
        var store = GroupStore.Create(dir, secret ?? own!, "test", fleet.Slots, requiredAcks);
        _stores.Add(store);
        return store;
    }

    private GroupStore Join(GroupStore creator, MailboxFleet fleet)
    {
        var invite = Invite.Parse(GroupClient.CreateInvite(creator, TimeSpan.FromHours(1), TimeProvider.System).Encode(), DateTimeOffset.UtcNow);
        using var secret = invite.OpenSecret();
        return NewGroup(fleet, creator.RequiredAcks, secret);
    }

    private static CancellationToken Timeout(int seconds = 60) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    private static BlobHandler Collect(ConcurrentDictionary<BlobId, byte[]> into) => (blob, _) =>
    {
        Assert.That(into.TryAdd(blob.Id, blob.Plaintext.ToArray()), Is.True, $"{blob.Id} delivered twice");
        return ValueTask.CompletedTask;
    };

    [Test]
    public async Task PushFansOutIdenticalBytesAndAnotherDevicePullsEachBlobOnce()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(3);
        var storeA = NewGroup(fleet, requiredAcks: 3);
        var storeB = Join(storeA, fleet);
        await using var a = await fleet.DeviceAsync(storeA);
        await using var b = await fleet.DeviceAsync(storeB);

        var outcome = await a.PushAsync("hello group"u8.ToArray(), ct);
        Assert.That(outcome.Durable, Is.True);
        Assert.That(outcome.Acked.Select(x => x.Slot), Is.EquivalentTo(fleet.Slots));
        Assert.That(outcome.Acked.Select(x => x.Cursor), Is.All.EqualTo(1UL));
        Assert.That(outcome.Queued, Is.Empty);
        Assert.That(storeA.OutboxCount(), Is.Zero);

        var received = new ConcurrentDictionary<BlobId, byte[]>();
        var pull = await b.PullAsync(Collect(received), ack: true, ct);
        // Three copies arrived; one was applied, the two others had the same id.
        Assert.That((pull.Applied, pull.Duplicates, pull.Rejected), Is.EqualTo((1, 2, 0)));
        Assert.That(received[outcome.Id], Is.EqualTo("hello group"u8.ToArray()));
        Assert.That(pull.Cursors.Values.Select(c => c.Cursor), Is.All.EqualTo(1UL));
        Assert.That(pull.Unreachable, Is.Empty);

        var again = await b.PullAsync(Collect(received), ack: true, ct);
        Assert.That((again.Applied, again.Duplicates), Is.EqualTo((0, 0)), "the committed cursors skip what was read");
    }

    [Test]
    public async Task WatchAppliesBlobsAsTheyArriveWithoutPollingAndStopsWhenTold()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(3);
        var storeA = NewGroup(fleet);
        var storeB = Join(storeA, fleet);
        await using var a = await fleet.DeviceAsync(storeA);
        // A poll interval far beyond the test's waits: only notifications can bring the blobs in time.
        await using var b = await fleet.DeviceAsync(storeB, MailboxFleet.FastOptions with { WatchPollInterval = TimeSpan.FromMinutes(10) });
        var arrived = new ConcurrentDictionary<BlobId, byte[]>();
        var first = new TaskCompletionSource();
        var second = new TaskCompletionSource();
        var firstPull = new TaskCompletionSource();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watching = b.WatchAsync(async (blob, token) =>
        {
            await Collect(arrived)(blob, token);
            if (arrived.Count == 1) first.TrySetResult();
            if (arrived.Count == 2) second.TrySetResult();
        }, ack: true, _ => firstPull.TrySetResult(), stop.Token);
        await firstPull.Task.WaitAsync(TimeSpan.FromSeconds(20), ct);
        // Two waves, each needing its own wake-up of the watcher.
        await a.PushAsync("live 0"u8.ToArray(), ct);
        await first.Task.WaitAsync(TimeSpan.FromSeconds(20), ct);
        await a.PushAsync("live 1"u8.ToArray(), ct);
        await second.Task.WaitAsync(TimeSpan.FromSeconds(20), ct);
        Assert.That(arrived.Values.Select(Encoding.UTF8.GetString), Is.EquivalentTo(new[] { "live 0", "live 1" }));
        await stop.CancelAsync();
        Assert.That(async () => await watching.WaitAsync(TimeSpan.FromSeconds(10), ct), Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task AMailboxThatIsDownGetsTheBlobFromTheOutboxWhenItReturns()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(3);
        var store = NewGroup(fleet, requiredAcks: 2);
        await fleet.Servers[2].StopAsync();
        await using (var device = await fleet.DeviceAsync(store))
        {
            var outcome = await device.PushAsync("while c is down"u8.ToArray(), ct);
            Assert.That(outcome.Durable, Is.True);
            Assert.That(outcome.Acked.Select(x => x.Slot), Is.EquivalentTo(new[] { "mbx-a", "mbx-b" }));
            Assert.That(outcome.Queued, Is.EqualTo(new[] { "mbx-c" }));
            var status = await device.StatusAsync(probe: true, ct);
            Assert.That(status.Single(s => s.Slot == "mbx-c").Reachable, Is.False);
            Assert.That(status.Single(s => s.Slot == "mbx-c").Outbox, Is.EqualTo(1));
            var flush = await device.FlushAsync(all: true, ct);
            Assert.That((flush.Delivered, flush.Remaining), Is.EqualTo((0, 1)));
        }
        // A new process of the same device: the outbox survived; the mailbox is back.
        await fleet.Servers[2].StartAsync();
        await using var restarted = await fleet.DeviceAsync(store);
        var done = await restarted.FlushAsync(all: true, ct);
        Assert.That((done.Delivered, done.Remaining), Is.EqualTo((1, 0)));
        var reader = Join(store, fleet);
        await using var other = await fleet.DeviceAsync(reader);
        var received = new ConcurrentDictionary<BlobId, byte[]>();
        var pull = await other.PullAsync(Collect(received), ack: true, ct);
        Assert.That(pull.Cursors["mbx-c"].Cursor, Is.EqualTo(1UL));
        Assert.That((pull.Applied, pull.Duplicates), Is.EqualTo((1, 2)));
    }

    [Test]
    public async Task PushFailsOverAndPullReadsTheSurvivors()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(3);
        var storeA = NewGroup(fleet);
        var storeB = Join(storeA, fleet);
        await using var a = await fleet.DeviceAsync(storeA);
        await using var b = await fleet.DeviceAsync(storeB);
        await fleet.Servers[0].StopAsync();
        await fleet.Servers[1].StopAsync();
        var outcome = await a.PushAsync("only c is up"u8.ToArray(), ct);
        Assert.That(outcome.Acked.Select(x => x.Slot), Is.EqualTo(new[] { "mbx-c" }));
        var received = new ConcurrentDictionary<BlobId, byte[]>();
        var pull = await b.PullAsync(Collect(received), ack: true, ct);
        Assert.That(pull.Applied, Is.EqualTo(1));
        Assert.That(pull.Unreachable, Is.EqualTo(new[] { "mbx-a", "mbx-b" }));
    }

    [Test]
    public async Task ANodeWithoutTheMailboxCapabilityIsNeverUsed()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(3, capabilities: i => i == 1 ? ["dht"] : ["dht", "mailbox"]);
        var store = NewGroup(fleet, requiredAcks: 2);
        await using var device = await fleet.DeviceAsync(store);
        var outcome = await device.PushAsync("x"u8.ToArray(), ct);
        Assert.That(outcome.Queued, Is.EqualTo(new[] { "mbx-b" }));
        var status = await device.StatusAsync(probe: true, ct);
        Assert.That(status.Single(s => s.Slot == "mbx-b").Error, Does.Contain("lacks the 'mailbox' capability"));
        Assert.That(fleet.Servers[1].Server!.SessionCount, Is.Zero, "no session was ever opened there");
        // A certificate from another authority is refused too.
        await using var foreign = await MailboxFleet.StartAsync(1);
        fleet.Servers[0].Certificate = foreign.Issue(fleet.Servers[0].Identity, ["mailbox"], "elsewhere");
        await using var fresh = await fleet.DeviceAsync(store);
        var refused = await fresh.StatusAsync(probe: true, ct);
        Assert.That(refused.Single(s => s.Slot == "mbx-a").Error, Does.Contain("does not verify"));
    }

    [Test]
    public async Task AResetStoreIsReadFromZeroWithoutApplyingAnythingTwice()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(3);
        var storeA = NewGroup(fleet, requiredAcks: 3);
        var storeB = Join(storeA, fleet);
        await using var a = await fleet.DeviceAsync(storeA);
        for (var i = 0; i < 5; i++) await a.PushAsync(Encoding.UTF8.GetBytes($"blob {i}"), ct);
        var received = new ConcurrentDictionary<BlobId, byte[]>();
        await using (var b = await fleet.DeviceAsync(storeB))
            Assert.That((await b.PullAsync(Collect(received), ack: true, ct)).Applied, Is.EqualTo(5));
        var epochBefore = storeB.GetPosition(1, "mbx-a").Epoch;
        // mbx-a loses its store; a re-push (e.g. from a's outbox after a rotation) puts blobs 0..4 back, then a new one.
        await fleet.Servers[0].ResetAsync();
        await using var a2 = await fleet.DeviceAsync(storeA);
        foreach (var entry in received.Keys) Assert.That(storeB.IsApplied(entry), Is.True);
        var fresh = await a2.PushAsync("after reset"u8.ToArray(), ct);
        await using var b2 = await fleet.DeviceAsync(storeB);
        var pull = await b2.PullAsync(Collect(received), ack: true, ct);
        Assert.That(pull.Applied, Is.EqualTo(1));
        Assert.That(received, Does.ContainKey(fresh.Id));
        var position = storeB.GetPosition(1, "mbx-a");
        Assert.That(position.Epoch, Is.Not.EqualTo(epochBefore));
        Assert.That(position.Cursor, Is.EqualTo(1UL), "the new store's cursor space, from 0");
    }

    [Test]
    public async Task RotationShutsTheOldSecretOutAndKeepsHistory()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(3);
        var storeA = NewGroup(fleet, requiredAcks: 3);
        var storeB = Join(storeA, fleet);
        var stolen = Join(storeA, fleet);
        await using var a = await fleet.DeviceAsync(storeA);
        var old = await a.PushAsync("before rotation"u8.ToArray(), ct);
        var invite = (await a.RotateAsync((_, _) => ValueTask.CompletedTask, TimeSpan.FromHours(1), ct)).Invite;
        Assert.That(storeA.Current.Number, Is.EqualTo(2));
        var fresh = await a.PushAsync("after rotation"u8.ToArray(), ct);
        Assert.That(fresh.Durable, Is.True);

        // The stolen device still reads the old mailboxes only: it never sees the new blob.
        await using var thief = await fleet.DeviceAsync(stolen);
        var thiefGot = new ConcurrentDictionary<BlobId, byte[]>();
        await thief.PullAsync(Collect(thiefGot), ack: true, ct);
        Assert.That(thiefGot.Keys, Does.Not.Contain(fresh.Id));

        // b joins the new generation with its existing directory: the old blob (re-pushed unchanged) and the new one.
        using (var secret = Invite.Parse(invite.Encode(), DateTimeOffset.UtcNow).OpenSecret())
            storeB.AddGeneration(secret, invite.Slots);
        await using var b = await fleet.DeviceAsync(storeB);
        var got = new ConcurrentDictionary<BlobId, byte[]>();
        var pull = await b.PullAsync(Collect(got), ack: true, ct);
        Assert.That(got.Keys, Is.EquivalentTo(new[] { old.Id, fresh.Id }));
        Assert.That(got[old.Id], Is.EqualTo("before rotation"u8.ToArray()));
        Assert.That(pull.Rejected, Is.Zero);
    }

    [Test]
    public async Task NoServerFileEverHoldsThePlaintextMarker()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(3);
        var store = NewGroup(fleet, requiredAcks: 3);
        await using var device = await fleet.DeviceAsync(store);
        var marker = Encoding.ASCII.GetBytes("PLAINTEXT-MARKER-" + Guid.NewGuid().ToString("N"));
        for (var i = 0; i < 20; i++) await device.PushAsync((byte[])[.. marker, .. Encoding.ASCII.GetBytes($" #{i} "), .. marker], ct);
        var secret = store.Current.Secret.Bytes.ToArray();
        foreach (var member in fleet.Servers)
        {
            await member.StopAsync();
            var files = member.DatabaseFiles.ToList();
            Assert.That(files, Is.Not.Empty);
            foreach (var file in files)
            {
                var bytes = await File.ReadAllBytesAsync(file, ct);
                Assert.That(bytes.AsSpan().IndexOf(marker), Is.EqualTo(-1), file);
                Assert.That(bytes.AsSpan().IndexOf(secret), Is.EqualTo(-1), $"{file} holds the group secret");
                Assert.That(bytes.AsSpan().IndexOf(store.Current.Keys.BlobKey), Is.EqualTo(-1), $"{file} holds the blob key");
            }
            // Each server saw only its own mailbox id: none of the other slots' ids appear.
            foreach (var other in fleet.Servers.Where(s => s != member))
            {
                var otherId = store.Current.SlotKeys[other.Slot].MailboxId;
                foreach (var file in files) Assert.That((await File.ReadAllBytesAsync(file, ct)).AsSpan().IndexOf(otherId), Is.EqualTo(-1));
            }
        }
    }

    [Test]
    [Category("Slow")]
    public async Task ADevice10000BlobsBehindCatchesUpByPages()
    {
        var ct = Timeout(240);
        await using var fleet = await MailboxFleet.StartAsync(3, configure: o => o with { MaxPullBlobs = 1000, PushesPerMinute = 1_000_000, RequestsPerSecond = 1_000_000 });
        var storeA = NewGroup(fleet, requiredAcks: 3);
        var storeB = Join(storeA, fleet);
        await using var a = await fleet.DeviceAsync(storeA);
        const int count = 10_000;
        var payload = new byte[1000];
        var pushed = new ConcurrentDictionary<BlobId, byte>();
        var pushTime = Stopwatch.StartNew();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = ct }, async (i, token) =>
        {
            var body = payload.ToArray();
            BitConverter.TryWriteBytes(body, i);
            var outcome = await a.PushAsync(body, token);
            Assert.That(outcome.Durable, Is.True);
            pushed[outcome.Id] = 0;
        });
        TestContext.Out.WriteLine($"{count} pushes to 3 mailboxes (64 concurrent): {pushTime.Elapsed.TotalSeconds:F2} s");
        Assert.That(storeA.OutboxCount(), Is.Zero);
        var storeRead = Stopwatch.StartNew();
        ulong after = 0;
        var mailboxA = storeA.Current.SlotKeys["mbx-a"].MailboxId;
        while (true)
        {
            var page = await fleet.Servers[0].Server!.Store.ReadAfterAsync(mailboxA, after, 1000, 4 << 20, ct);
            if (page.Blobs.Count == 0) break;
            after = page.Blobs[^1].Cursor;
        }
        TestContext.Out.WriteLine($"server store read of {after} blobs alone: {storeRead.Elapsed.TotalSeconds:F2} s");
        var rawHost = await fleet.ClientHostAsync();
        rawHost.PeerStore.AddAddresses(fleet.Servers[0].PeerId, [fleet.Servers[0].Address], TimeSpan.FromMinutes(5));
        var rawWatch = Stopwatch.StartNew();
        await using (var raw = await KontinuumP2P.Mailbox.Wire.MailboxSession.ConnectAsync(rawHost, fleet.Servers[0].PeerId, null, ct))
        {
            await raw.OpenAsync(mailboxA, storeA.Current.SlotKeys["mbx-a"].Capability, new byte[16], default, ct);
            after = 0;
            while (true)
            {
                var page = await raw.PullAsync(after, 1000, 4 << 20, 0, ct);
                if (page.Blobs.Count == 0) break;
                after = page.Blobs[^1].Cursor;
                if (!page.HasMore) break;
            }
        }
        TestContext.Out.WriteLine($"raw session pull of {after} blobs: {rawWatch.Elapsed.TotalSeconds:F2} s");
        await using var b = await fleet.DeviceAsync(storeB);
        var applied = 0;
        var watch = Stopwatch.StartNew();
        var firstBlob = TimeSpan.Zero;
        var pull = await b.PullAsync((blob, _) =>
        {
            if (applied == 0) firstBlob = watch.Elapsed;
            Assert.That(pushed.ContainsKey(blob.Id), Is.True);
            applied++;
            return ValueTask.CompletedTask;
        }, ack: true, ct);
        watch.Stop();
        TestContext.Out.WriteLine($"catch-up of {count} blobs (1000 B) from 3 mailboxes, 1000-blob pages: {watch.Elapsed.TotalSeconds:F2} s; duplicates {pull.Duplicates}; first blob after {firstBlob.TotalSeconds:F2} s");
        var status = await b.StatusAsync(probe: false, ct);
        Assert.That(pull.Unreachable, Is.Empty, string.Join("; ", status.Select(s => $"{s.Slot}: {s.Error}")));
        Assert.That((pull.Applied, applied, pull.Duplicates), Is.EqualTo((count, count, 2 * count)));
        Assert.That(pull.Cursors.Values.Select(c => c.Cursor), Is.All.EqualTo((ulong)count), "paging followed has_more to the end");
    }
    [Test]
    [Category("Slow")]
    public async Task FanOutChaosLosesNothingAndDeliversNothingTwice()
    {
        // 2 devices push 1,000 blobs each while mbx-a is stopped mid-push and restarted, and mbx-b flaps every 300 ms.
        var ct = Timeout(240);
        await using var fleet = await MailboxFleet.StartAsync(3, configure: o => o with { PushesPerMinute = 1_000_000, RequestsPerSecond = 1_000_000 });
        var storeA = NewGroup(fleet, requiredAcks: 1);
        var storeB = Join(storeA, fleet);
        var options = MailboxFleet.FastOptions with { PushTimeout = TimeSpan.FromSeconds(5), ConnectTimeout = TimeSpan.FromSeconds(2) };
        await using var a = await fleet.DeviceAsync(storeA, options);
        await using var b = await fleet.DeviceAsync(storeB, options);
        const int perDevice = 1000;
        var pushedBy = new[] { new ConcurrentDictionary<BlobId, byte>(), new ConcurrentDictionary<BlobId, byte>() };
        var progress = 0;
        var stopped = new TaskCompletionSource();
        var pushing = new CancellationTokenSource();
        var flapper = Task.Run(async () =>
        {
            for (var flap = 0; flap < 20 && !pushing.IsCancellationRequested; flap++)
            {
                await fleet.Servers[1].StopAsync();
                await Task.Delay(150, CancellationToken.None);
                await fleet.Servers[1].StartAsync();
                await Task.Delay(150, CancellationToken.None);
            }
        }, CancellationToken.None);
        var killer = Task.Run(async () =>
        {
            await stopped.Task;
            await fleet.Servers[0].StopAsync();
            while (Volatile.Read(ref progress) < perDevice) await Task.Delay(20, CancellationToken.None);
            await fleet.Servers[0].StartAsync();
        }, CancellationToken.None);
        var notDurable = 0;
        await Task.WhenAll(new[] { a, b }.Select((device, d) => Parallel.ForAsync(0, perDevice, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (i, token) =>
        {
            var outcome = await device.PushAsync(Encoding.UTF8.GetBytes($"device {d} blob {i}"), token);
            if (!outcome.Durable) Interlocked.Increment(ref notDurable);
            pushedBy[d][outcome.Id] = 0;
            if (Interlocked.Increment(ref progress) == perDevice / 2) stopped.TrySetResult();
        })));
        await pushing.CancelAsync();
        await Task.WhenAll(flapper, killer);
        Assert.That(fleet.Servers.All(s => s.Running), Is.True);
        TestContext.Out.WriteLine($"after the pushes: outbox A {storeA.OutboxCount()}, B {storeB.OutboxCount()}, pushes durable nowhere at first: {notDurable}");
        for (var round = 0; round < 10 && storeA.OutboxCount() + storeB.OutboxCount() > 0; round++)
        {
            await a.FlushAsync(all: true, ct);
            await b.FlushAsync(all: true, ct);
        }
        Assert.That((storeA.OutboxCount(), storeB.OutboxCount()), Is.EqualTo((0, 0)), "the outboxes drain once every mailbox is back");

        var receivedBy = new[] { new ConcurrentDictionary<BlobId, byte[]>(), new ConcurrentDictionary<BlobId, byte[]>() };
        var pulls = await Task.WhenAll(a.PullAsync(Collect(receivedBy[0]), ack: true, ct), b.PullAsync(Collect(receivedBy[1]), ack: true, ct));
        Assert.That(pulls.SelectMany(p => p.Unreachable), Is.Empty);
        Assert.That(receivedBy[0].Keys, Is.EquivalentTo(pushedBy[1].Keys), "A got every blob of B, once");
        Assert.That(receivedBy[1].Keys, Is.EquivalentTo(pushedBy[0].Keys), "B got every blob of A, once");
        // Every mailbox ends with all 2,000 blobs: the cursors of each reach 2,000 (no gaps, no extra copies).
        foreach (var pull in pulls) Assert.That(pull.Cursors.Values.Select(c => c.Cursor), Is.All.EqualTo((ulong)(2 * perDevice)));
    }
}
