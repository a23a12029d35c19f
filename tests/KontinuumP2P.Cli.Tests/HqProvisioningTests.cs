using KontinuumP2P.Devnet;
using KontinuumP2P.Hq.Provisioning;
using KontinuumP2P.Hq.Registry;
using KontinuumP2P.Node.Configuration;

namespace KontinuumP2P.Cli.Tests;

/// <summary>HQ's local provisioner starting real `kontinuum node run` processes from pre-certified spare identities.</summary>
public sealed class HqProvisioningTests
{
    [Test]
    [Category("Slow")]
    [CancelAfter(120_000)]
    public async Task Starts_a_spare_identity_as_a_node_process_and_stops_it(CancellationToken ct)
    {
        var dir = Path.Combine(Path.GetTempPath(), "hq-prov-" + Guid.NewGuid().ToString("N"));
        try
        {
            var layout = DevnetLayout.Write(dir, 2, 20000 + Random.Shared.Next(0, 20000), TimeSpan.FromDays(1), TimeProvider.System);
            await using var provisioner = new LocalProcessProvisioner("dotnet", [NodeProcess.CliPath], TimeSpan.FromSeconds(60));
            var spare = new SpareEntry(layout.Nodes[0].PeerId, "devnet", "local", layout.Nodes[0].Directory, null);
            var node = await provisioner.StartAsync(spare, "mbx-local-1", ct);
            Assert.That(node.NodeId, Is.EqualTo(spare.Id));
            Assert.That(node.ListenAddresses.Single(), Does.Contain(layout.Nodes[0].ListenAddress.Split("/p2p/")[0]));
            Assert.That(provisioner.Running, Is.EqualTo(new[] { spare.Id }));
            using (var process = System.Diagnostics.Process.GetProcessById(node.ProcessId!.Value)) Assert.That(process.HasExited, Is.False);

            // A spare whose directory holds another identity is refused and its process not left running.
            var wrong = spare with { Id = layout.Nodes[1].PeerId, Directory = layout.Nodes[0].Directory };
            await provisioner.StopAsync(spare.Id, TimeSpan.FromSeconds(30), ct);
            Assert.That(async () => await provisioner.StartAsync(wrong, "mbx-local-2", ct), Throws.InstanceOf<IOException>().With.Message.Contains("another identity"));
            Assert.That(provisioner.Running, Is.Empty);
            Assert.That(async () => await provisioner.StartAsync(spare with { Directory = dir }, "x", ct), Throws.InstanceOf<FileNotFoundException>());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
