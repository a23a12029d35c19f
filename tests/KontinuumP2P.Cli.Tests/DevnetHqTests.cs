using System.Text.Json;
using KontinuumP2P.Cli.Commands;

namespace KontinuumP2P.Cli.Tests;

/// <summary><c>kontinuum devnet</c> runs HQ through the node composition: a slot per mailbox node, published to the DHT.</summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed class DevnetHqTests
{
    [Test]
    public async Task The_devnet_runs_HQ_with_a_published_slot_per_mailbox_node_on_its_provider(CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("kp-devnet-hq-").FullName;
        try
        {
            using var output = new LineWriter();
            using var error = new LineWriter();
            var code = await LineWriter.InvokeAsync(DevnetCommand.Create(), ["devnet", "--dir", dir, "--duration", "12", "--interval", "4", "--json"], output, error, ct);
            Assert.That(code, Is.Zero, error.Text);
            var last = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
            using var doc = JsonDocument.Parse(last);
            var hq = doc.RootElement.GetProperty("hq");
            var slots = hq.GetProperty("slots").EnumerateArray().ToList();
            var mailboxes = doc.RootElement.GetProperty("mailboxes").EnumerateArray().ToList();
            Assert.That(slots.Select(s => s.GetProperty("slot").GetString()), Is.EqualTo(new[] { "mbx-a", "mbx-b", "mbx-c" }));
            Assert.That(slots.Select(s => s.GetProperty("provider").GetString()), Is.EqualTo(mailboxes.Select(m => m.GetProperty("provider").GetString())));
            Assert.That(slots.Select(s => s.GetProperty("state").GetString()), Is.All.EqualTo("green"));
            Assert.That(hq.GetProperty("published").GetInt32(), Is.GreaterThanOrEqualTo(3), "every slot record went into the DHT");
            var nodes = doc.RootElement.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("peerId").GetString()).ToList();
            Assert.That(slots.Select(s => s.GetProperty("peerId").GetString()), Is.EqualTo(nodes.Take(3)));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }
}
