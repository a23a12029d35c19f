using System.Globalization;
using System.Text.Json;
using KontinuumP2P.Cli.Commands;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// <c>kontinuum devnet --chaos</c>: HQ first, one mailbox node stopped abruptly, and the run shows the way back — RED at
/// HQ, the slot moved to the pre-certified spare (started in-process), the demo group on 3 mailboxes with nothing lost.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Slow")]
[CancelAfter(150_000)]
public sealed class DevnetChaosTests
{
    [Test]
    public async Task A_stopped_mailbox_goes_red_its_slot_moves_to_the_spare_and_the_group_is_back_on_3_with_nothing_lost(CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("kp-devnet-chaos-").FullName;
        try
        {
            using var output = new LineWriter();
            using var error = new LineWriter();
            // The run ends by itself one round after recovery; --duration bounds it (exit 1 without recovery).
            var code = await LineWriter.InvokeAsync(DevnetCommand.Create(), ["devnet", "--chaos", "--dir", dir, "--duration", "90", "--interval", "1", "--json"],
                output, error, ct);
            Assert.That(code, Is.Zero, error.Text + "\n" + output.Text[^Math.Min(output.Text.Length, 4000)..]);
            var lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l)).ToList();
            var chaos = lines.Select(d => d.RootElement.GetProperty("chaos")).ToList();
            Assert.That(chaos[0].GetProperty("killed").GetBoolean(), Is.False, "the first rounds run on all three mailboxes");
            Assert.That(chaos[0].GetProperty("thresholds").GetString(), Does.Contain("scaled"));
            var last = chaos[^1];
            var spare = last.GetProperty("spare").GetString();
            var victim = last.GetProperty("victim").GetString();

            Assert.That(last.GetProperty("reports").GetInt64(), Is.GreaterThan(0), "the devices' health loops reported the dead mailbox");
            double At(string name) => last.GetProperty(name).GetDouble();
            Assert.That(At("yellowAfter"), Is.LessThanOrEqualTo(At("orangeAfter")));
            Assert.That(At("orangeAfter"), Is.LessThanOrEqualTo(At("redAfter")));
            Assert.That(At("redAfter"), Is.LessThanOrEqualTo(At("slotMovedAfter")), "HQ replaces only a RED slot");
            Assert.That(last.GetProperty("replacement").GetString(), Is.EqualTo(spare));
            Assert.That(last.GetProperty("slotNode").GetString(), Is.EqualTo(spare));
            Assert.That(last.GetProperty("slotSequence").GetUInt64(), Is.GreaterThanOrEqualTo(2UL), "a newer slot record than the first");
            Assert.That(last.GetProperty("mailboxesReachable").GetInt32(), Is.EqualTo(3));
            Assert.That(last.GetProperty("devicesFollowSlot").GetBoolean(), Is.True);
            Assert.That(last.GetProperty("reseededBlobs").GetInt64(), Is.GreaterThan(0));
            Assert.That(last.GetProperty("pending").GetInt32(), Is.Zero, "every blob pushed was applied by the other device");
            Assert.That(last.GetProperty("outbox").GetInt32(), Is.Zero);
            // By id: every blob either device pushed, before and after the kill, is on the replacement (the re-seed read
            // the replica, which trimmed what both devices acknowledged, and the ephemeral survivor).
            Assert.That(last.GetProperty("pushedIds").GetInt32(), Is.GreaterThan(last.GetProperty("pushedBeforeKill").GetInt32()));
            Assert.That(last.GetProperty("pushedBeforeKill").GetInt32(), Is.GreaterThan(0));
            Assert.That(last.GetProperty("missingOnReplacement").GetInt32(), Is.Zero, "the replacement holds every blob id pushed");
            Assert.That(last.GetProperty("backOn3").GetBoolean(), Is.True);

            // HQ's table agrees: mbx-b on the spare, on the spare's provider, and no other slot ever left green.
            var hqSlots = lines[^1].RootElement.GetProperty("hq").GetProperty("slots").EnumerateArray().ToList();
            var b = hqSlots.Single(s => s.GetProperty("slot").GetString() == "mbx-b");
            Assert.That(b.GetProperty("peerId").GetString(), Is.EqualTo(spare));
            Assert.That(b.GetProperty("provider").GetString(), Is.EqualTo("devnet-d"));
            Assert.That(lines.SelectMany(d => d.RootElement.GetProperty("hq").GetProperty("slots").EnumerateArray())
                .Where(s => s.GetProperty("slot").GetString() != "mbx-b").Select(s => s.GetProperty("state").GetString()), Is.All.EqualTo("green"));
            Assert.That(lines[^1].RootElement.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("peerId").GetString()),
                Does.Contain(spare).And.Not.Contain(victim));
            TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"devnet --chaos: yellow {At("yellowAfter"):0.0} s, orange {At("orangeAfter"):0.0} s, red {At("redAfter"):0.0} s, slot moved {At("slotMovedAfter"):0.0} s, back on 3 {At("backOn3After"):0.0} s after the kill"));
            foreach (var d in lines) d.Dispose();
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // a node's files may still be closing; the temp folder is left behind
            }
        }
    }
}
