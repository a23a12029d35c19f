using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Node.Configuration;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// Fleet health end to end with real processes: HQ (`hq run` with its libp2p node) + 6 `node run` mailbox processes on
/// 3 providers (two each) + a pre-certified spare, and two devices of one group in this process. One mailbox is killed
/// with SIGKILL; the devices report it to the survivors, both survivors escalate it to RED and alert HQ, HQ confirms
/// RED (2 mailboxes), starts the spare, publishes the slot, and the devices' queued and new pushes land on the
/// replacement with nothing lost. Thresholds are scaled down (said below); the figures go to TestContext.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class HqFailoverProcessTests
{
    // Scaled thresholds: YELLOW above 1 reporting device, checks every second, ORANGE after 3 failures, RED after 4 s.
    private const string HealthToml = "yellow_report_threshold = 1\nreport_window = \"30s\"\ncheck_interval = \"1s\"\norange_consecutive_failures = 3\n" +
                                      "red_after = \"4s\"\nalert_refresh = \"2s\"\ntimeout = \"3s\"\n";

    private static readonly string[] Providers = ["devnet-a", "devnet-b", "devnet-c"];
    private const int Mailboxes = 6;
    private const int SpareIndex = Mailboxes;
    private const int HqIndex = Mailboxes + 1;

    // The group's slots use all three providers, so the replacement for mbx-b must come from mbx-b's provider.
    private const string SpareProvider = "devnet-b";

    [Test]
    [Category("Slow")]
    [CancelAfter(240_000)]
    public async Task A_killed_mailbox_goes_red_is_replaced_from_the_spare_pool_and_the_group_follows_its_slot(CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("kp-hq-failover-").FullName;
        var processes = new List<NodeProcess>();
        try
        {
            var basePort = 21000 + Random.Shared.Next(0, 400) * 20;
            var layout = DevnetLayout.Write(dir, HqIndex + 1, basePort, TimeSpan.FromDays(1), TimeProvider.System);
            var hqNode = layout.Nodes[HqIndex];
            var spare = layout.Nodes[SpareIndex];
            Prepare(layout);
            var hqToml = Path.Combine(dir, "hq.toml");
            // The nodes use base .. base + 15 (two ports each); the admin API takes the next free one.
            await File.WriteAllTextAsync(hqToml, HqToml(layout, basePort + 2 * (HqIndex + 1)), ct);

            for (var i = 0; i < Mailboxes; i++)
                processes.Add(NodeProcess.Start($"mailbox-{i}", new Dictionary<string, string>(), "node", "run", "--config", layout.Nodes[i].ConfigPath, "--json"));
            var events = new ConcurrentQueue<(JsonElement Event, DateTimeOffset At)>();
            var eventArrived = new SemaphoreSlim(0);
            var hq = NodeProcess.Start("hq", new Dictionary<string, string>(), "hq", "run", "--config", hqToml);
            hq.LineReceived += line =>
            {
                if (!line.StartsWith("{\"event\"", StringComparison.Ordinal)) return;
                using var doc = JsonDocument.Parse(line);
                events.Enqueue((doc.RootElement.Clone(), DateTimeOffset.UtcNow));
                eventArrived.Release();
            };
            processes.Add(hq);
            foreach (var p in processes) await p.FirstLineAsync(TimeSpan.FromSeconds(90), ct);

            // Every slot record is out before the devices resolve them.
            await WaitForEventAsync(events, eventArrived, hq, e => Kind(e) == "published" && Slot(e) == "mbx-b", TimeSpan.FromSeconds(60), ct);

            await using var client = await KontinuumNode.StartAsync(new KontinuumNodeOptions
            {
                Identity = Ed25519Identity.Generate(),
                Network = NetworkDefinition.Resolve(layout.Genesis),
                DhtMode = KontinuumP2P.Dht.DhtMode.Client,
                ExtraBootstrapPeers = [Multiaddr.Parse(layout.Nodes[0].ListenAddress)],
                CrlRefreshInterval = TimeSpan.Zero,
            }, ct);
            var secret = GroupSecret.Generate();
            string[] slots = ["mbx-a", "mbx-b", "mbx-c"];
            using var storeA = GroupStore.Create(Path.Combine(dir, "device-a"), secret, "devnet", slots, 2);
            using var storeB = GroupStore.Create(Path.Combine(dir, "device-b"), secret, "devnet", slots, 2);
            await using var deviceA = client.CreateGroupClient(storeA);
            await using var deviceB = client.CreateGroupClient(storeB);
            var received = new ConcurrentDictionary<string, int>();
            ValueTask Apply(ReceivedBlob blob, CancellationToken _)
            {
                received.AddOrUpdate(Encoding.UTF8.GetString(blob.Plaintext.Span), 1, (_, n) => n + 1);
                return ValueTask.CompletedTask;
            }

            // Before the failure: both devices reach all three mailboxes (and register there).
            for (var i = 0; i < 5; i++) Assert.That((await deviceA.PushAsync(Encoding.UTF8.GetBytes($"before-{i}"), ct)).Durable, Is.True);
            FlushOutcome first = new(0, 0, -1);
            for (var attempt = 0; attempt < 20; attempt++)
            {
                first = await deviceA.FlushAsync(all: true, ct);
                if (first.Remaining == 0) break;
                await Task.Delay(TimeSpan.FromSeconds(1), ct); // a just-started mailbox's node record may still be on its way
            }
            Assert.That(first.Remaining, Is.Zero, "every mailbox holds the first pushes");
            var firstPull = await deviceB.PullAsync(Apply, ack: false, ct);
            Assert.That(firstPull.Unreachable, Is.Empty);

            var victim = processes[1];
            var victimId = layout.Nodes[1].PeerId;
            using (var process = Process.GetProcessById(victim.Pid)) process.Kill(); // SIGKILL
            var killedAt = DateTimeOffset.UtcNow;
            await victim.WaitForExitAsync(TimeSpan.FromSeconds(10), ct);

            // After the failure: pushes stay durable on the two survivors and wait in the outbox for mbx-b.
            for (var i = 0; i < 5; i++)
            {
                var outcome = await deviceA.PushAsync(Encoding.UTF8.GetBytes($"after-{i}"), ct);
                Assert.That(outcome.Durable, Is.True, "two survivors acknowledge");
            }
            await deviceB.PullAsync(Apply, ack: false, ct);

            // Each device's health loop reports the dead mailbox (first at once, then backing off from 1 s to 2 s) until
            // HQ replaced it, then notices the new node of mbx-b and re-seeds it from a survivor.
            var health = new GroupHealthOptions
            {
                Interval = TimeSpan.FromSeconds(1),
                FirstReportInterval = TimeSpan.FromSeconds(1),
                MaxReportInterval = TimeSpan.FromSeconds(2),
                ReportTimeout = TimeSpan.FromSeconds(3),
                Region = "local",
            };
            var reseeded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var reports = 0;
            await using var loopA = deviceA.StartHealthLoop(health);
            await using var loopB = deviceB.StartHealthLoop(health);
            foreach (var loop in new[] { loopA, loopB })
            {
                loop.RoundCompleted += r =>
                {
                    Interlocked.Add(ref reports, r.Reports);
                    eventArrived.Release(); // wakes the wait below to look at the device side too
                };
                loop.Reseeded += _ => reseeded.TrySetResult();
            }
            DateTimeOffset? red = null, replaced = null;
            var waitUntil = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(150);
            while (replaced is null && DateTimeOffset.UtcNow < waitUntil)
            {
                await eventArrived.WaitAsync(TimeSpan.FromSeconds(1), ct);
                foreach (var (e, at) in events)
                {
                    if (red is null && Kind(e) == "level" && Slot(e) == "mbx-b" && e.GetProperty("detail").GetString() == "red") red = at;
                    if (replaced is null && Kind(e) == "published" && Slot(e) == "mbx-b" && e.GetProperty("nodeId").GetString() == spare.PeerId) replaced = at;
                }
            }
            Assert.That(Volatile.Read(ref reports), Is.GreaterThan(0), "the health loops reported mbx-b");
            Assert.That(red, Is.Not.Null, $"HQ never saw mbx-b RED; HQ output:\n{hq.Output}\nHQ stderr:\n{Tail(hq.Errors)}");
            Assert.That(replaced, Is.Not.Null, $"HQ never published mbx-b on the spare; HQ output:\n{hq.Output}\nHQ stderr:\n{Tail(hq.Errors)}");
            var detection = (red!.Value - killedAt).TotalSeconds;
            var replacement = (replaced!.Value - killedAt).TotalSeconds;
            TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"hq failover (scaled: yellow > 1 device, checks 1 s, orange 3, red 4 s, HQ tick 1 s): RED at HQ {detection:0.0} s after SIGKILL, slot on the spare {replacement:0.0} s after SIGKILL"));
            var levels = events.Where(x => Kind(x.Event) == "level" && Slot(x.Event) == "mbx-b").Select(x => x.Event.GetProperty("detail").GetString()).ToList();
            string FirstAt(string level) => events.Where(x => Kind(x.Event) == "level" && Slot(x.Event) == "mbx-b" && x.Event.GetProperty("detail").GetString() == level)
                .Select(x => ((x.At - killedAt).TotalSeconds).ToString("0.0", CultureInfo.InvariantCulture) + " s").FirstOrDefault() ?? "-";
            TestContext.Out.WriteLine($"hq failover: mbx-b at HQ yellow {FirstAt("yellow")}, orange {FirstAt("orange")}, red {FirstAt("red")} after SIGKILL; levels {string.Join(" -> ", levels)}");
            Assert.That(levels, Does.Contain("red"));
            Assert.That(events.Any(x => Kind(x.Event) == "replaced" && Slot(x.Event) == "mbx-b" && x.Event.GetProperty("nodeId").GetString() == spare.PeerId));
            Assert.That(events.Any(x => Kind(x.Event) == "provision-failed"), Is.False, hq.Output);
            Assert.That(events.Any(x => Kind(x.Event) == "level" && Slot(x.Event) != "mbx-b" && x.Event.GetProperty("detail").GetString() == "red"), Is.False,
                "no healthy mailbox escalated");

            // The devices follow the slot: what mbx-b was owed, and new pushes, land on the replacement.
            var record = await client.ResolveSlotAsync("mbx-b", ct);
            Assert.That(record?.NodeId.ToString(), Is.EqualTo(spare.PeerId));
            FlushOutcome flushed = new(0, 0, -1);
            for (var attempt = 0; attempt < 20; attempt++)
            {
                flushed = await deviceA.FlushAsync(all: true, ct);
                if (flushed.Remaining == 0) break;
                await Task.Delay(TimeSpan.FromSeconds(1), ct); // the replacement's own node record may still be on its way
            }
            Assert.That(flushed.Remaining, Is.Zero, "the outbox for mbx-b drained into the replacement");
            var late = await deviceA.PushAsync("after-replacement"u8.ToArray(), ct);
            Assert.That(late.Durable, Is.True);
            Assert.That((await deviceA.FlushAsync(all: true, ct)).Remaining, Is.Zero, "the new push reached all three, the replacement included");
            var status = await deviceB.StatusAsync(probe: true, ct);
            Assert.That(status.Single(s => s.Slot == "mbx-b").PeerId?.ToString(), Is.EqualTo(spare.PeerId));
            Assert.That(status.Single(s => s.Slot == "mbx-b").PeerId?.ToString(), Is.Not.EqualTo(victimId));

            // Re-seed: the replacement gets what the survivors hold and it lacks (the "before" blobs never were in an outbox for it).
            await reseeded.Task.WaitAsync(TimeSpan.FromSeconds(120), ct);
            var reseededAt = (DateTimeOffset.UtcNow - killedAt).TotalSeconds;
            using (var storeC = GroupStore.Create(Path.Combine(dir, "device-c"), secret, "devnet", ["mbx-b"], 1))
            await using (var onlyReplacement = client.CreateGroupClient(storeC))
            {
                var held = new ConcurrentBag<string>();
                var pulled = await onlyReplacement.PullAsync((blob, _) =>
                {
                    held.Add(Encoding.UTF8.GetString(blob.Plaintext.Span));
                    return ValueTask.CompletedTask;
                }, ack: false, ct);
                Assert.That(pulled.Unreachable, Is.Empty);
                var all = Enumerable.Range(0, 5).Select(i => $"before-{i}").Concat(Enumerable.Range(0, 5).Select(i => $"after-{i}")).Append("after-replacement");
                Assert.That(held, Is.EquivalentTo(all), "the replacement holds every blob the survivors hold, once");
            }
            TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"hq failover: replacement re-seeded {reseededAt:0.0} s after SIGKILL"));

            // Nothing lost: device B has every blob exactly once; the replacement alone holds what was pushed after the failure.
            var final = await deviceB.PullAsync(Apply, ack: false, ct);
            Assert.That(final.Unreachable, Is.Empty);
            // From the replacement come after-0..4 (already applied from the survivors) and after-replacement from all three.
            Assert.That(final.Duplicates, Is.GreaterThanOrEqualTo(7), "the replacement served what was pushed after the failure");
            var expected = Enumerable.Range(0, 5).Select(i => $"before-{i}").Concat(Enumerable.Range(0, 5).Select(i => $"after-{i}")).Append("after-replacement");
            Assert.That(received.Keys, Is.EquivalentTo(expected));
            Assert.That(received.Values, Is.All.EqualTo(1));

        }
        finally
        {
            foreach (var p in processes) p.Dispose();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // a spare started by HQ may still be closing its files; the temp folder is left behind
            }
        }
    }

    private static string Kind(JsonElement e) => e.GetProperty("event").GetString()!;

    private static string Slot(JsonElement e) => e.GetProperty("slot").GetString()!;

    private static string Tail(string text) => text.Length > 6000 ? text[^6000..] : text;

    private static async Task WaitForEventAsync(ConcurrentQueue<(JsonElement Event, DateTimeOffset At)> events, SemaphoreSlim arrived, NodeProcess hq,
        Func<JsonElement, bool> match, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (!events.Any(x => match(x.Event)))
        {
            var left = deadline - DateTimeOffset.UtcNow;
            if (left <= TimeSpan.Zero || hq.HasExited) Assert.Fail($"HQ event not seen within {timeout}; output:\n{hq.Output}\nstderr:\n{Tail(hq.Errors)}");
            await arrived.WaitAsync(left, ct);
        }
    }

    // Nodes 0-5 serve mailboxes, two on each provider; node 6 is the spare (not started here), node 7 is HQ.
    private static void Prepare(DevnetFiles layout)
    {
        var anchor = KeyFile.Decode(File.ReadAllBytes(layout.AnchorKeyFile), KeyFileKind.Tier0, null);
        using var authority = new DevnetAuthority("devnet", [anchor], 1, TimeProvider.System);
        var hqAddress = layout.Nodes[HqIndex].ListenAddress;
        for (var i = 0; i <= HqIndex; i++)
        {
            var node = layout.Nodes[i];
            using var key = KeyFile.Decode(File.ReadAllBytes(Path.Combine(node.Directory, "keys", "node.key")), KeyFileKind.Node, null);
            var (capabilities, provider) = i switch
            {
                < Mailboxes => (new[] { "dht", "mailbox" }, Providers[i % Providers.Length]),
                SpareIndex => (["dht", "mailbox"], SpareProvider),
                _ => (new[] { "dht", "hq" }, "devnet-hq"),
            };
            var toml = File.ReadAllText(node.ConfigPath);
            // The layout makes every devnet node but the first an archive holder; its certificate must say so.
            if (toml.Contains("[archive_holder]", StringComparison.Ordinal)) capabilities = [.. capabilities, "archive"];
            File.WriteAllBytes(Path.Combine(node.Directory, "keys", "node.cert"), authority.IssueCertificate(key, TimeSpan.FromDays(1), capabilities, provider).Encode());
            if (i == HqIndex) continue;
            if (!toml.Contains("[mailbox]", StringComparison.Ordinal)) toml += "\n[mailbox]\nenabled = true\nrole = \"ephemeral\"\n";
            toml += $"\n[health]\nhq = \"{hqAddress}\"\n{HealthToml}";
            File.WriteAllText(node.ConfigPath, toml);
        }
    }

    private static string HqToml(DevnetFiles layout, int adminPort)
    {
        static string Q(string v) => "\"" + v.Replace("\\", "\\\\", StringComparison.Ordinal) + "\"";
        var hq = layout.Nodes[HqIndex];
        var b = new StringBuilder();
        b.AppendLine("[hq]");
        b.AppendLine("data_directory = \"hq-data\"");
        b.AppendLine($"key_file = {Q(Path.Combine(hq.Directory, "keys", "node.key"))}");
        b.AppendLine($"certificate_file = {Q(Path.Combine(hq.Directory, "keys", "node.cert"))}");
        b.AppendLine($"network = {Q(layout.Genesis)}");
        b.AppendLine($"node_config = {Q(hq.ConfigPath)}");
        b.AppendLine("tick_seconds = 1");
        b.AppendLine();
        b.AppendLine("[admin]");
        b.AppendLine(CultureInfo.InvariantCulture, $"listen = \"http://127.0.0.1:{adminPort}\"");
        b.AppendLine();
        b.AppendLine("[escalation]");
        b.AppendLine("red_confirmations = 2");
        b.AppendLine("alert_ttl_seconds = 30");
        for (var i = 0; i < Mailboxes; i++)
        {
            b.AppendLine();
            b.AppendLine("[[fleet.slots]]");
            b.AppendLine($"name = \"mbx-{(char)('a' + i)}\"");
            b.AppendLine($"node_id = \"{layout.Nodes[i].PeerId}\"");
            b.AppendLine($"provider = \"{Providers[i % Providers.Length]}\"");
        }
        b.AppendLine();
        b.AppendLine("[[fleet.spares]]");
        b.AppendLine($"id = \"{layout.Nodes[SpareIndex].PeerId}\"");
        b.AppendLine($"provider = \"{SpareProvider}\"");
        b.AppendLine($"directory = {Q(layout.Nodes[SpareIndex].Directory)}");
        return b.ToString();
    }
}
