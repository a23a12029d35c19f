using KontinuumP2P.Devnet;
using KontinuumP2P.Hq.Registry;

namespace KontinuumP2P.Node.Tests;

/// <summary>The devnet's in-process provisioner starts a pre-certified spare as a real mailbox node, and only a spare of its pool.</summary>
[TestFixture]
[CancelAfter(120_000)]
public class DevnetProvisionerTests
{
    [Test]
    public async Task A_spare_starts_as_a_mailbox_node_of_the_devnet_and_stops_on_request(CancellationToken ct)
    {
        using var authority = new DevnetAuthority("devnet", 1, 1, TimeProvider.System);
        await using var devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = 5, Authority = authority }, ct);
        using var provisioner = new DevnetProvisioner(authority);
        var spare = provisioner.AddSpare("devnet-d", Path.Combine(devnet.Directory, "spare-0"));
        Assert.That(spare.Provider, Is.EqualTo("devnet-d"));

        Assert.ThrowsAsync<InvalidOperationException>(() => provisioner.StartAsync(spare, "mbx-b", ct), "not attached to a devnet yet");
        provisioner.Attach(devnet);
        var stranger = new SpareEntry("12D3KooWHvfos5oaTHBk7pcuT1oKMGmKYJ3eQvF5ZZ3BB7rS7miK", "devnet-d", "local", devnet.Directory, null);
        Assert.ThrowsAsync<InvalidOperationException>(() => provisioner.StartAsync(stranger, "mbx-b", ct), "an identity outside the pool");

        var started = await provisioner.StartAsync(spare, "mbx-b", ct);
        Assert.That(started.NodeId, Is.EqualTo(spare.Id));
        Assert.That(started.ListenAddresses, Is.Not.Empty);
        var node = devnet.Nodes.Single(n => n.PeerId.ToString() == spare.Id);
        Assert.That(node.MailboxServer, Is.Not.Null, "the spare serves mailboxes");
        Assert.That(node.Options.Certificate!.Body.Provider, Is.EqualTo("devnet-d"));
        Assert.That(node.Options.Certificate.Body.Capabilities, Does.Contain("mailbox"));

        // It joined the devnet: the others resolve its node record, and it appears among the mailbox rows.
        var status = await devnet.RunLookupRoundAsync(ct);
        Assert.That(status.LookupFailures, Is.Zero);
        Assert.That(status.Nodes, Has.Count.EqualTo(6));
        Assert.That(status.Mailboxes.Select(m => m.Provider), Does.Contain("devnet-d"));

        await provisioner.StopAsync(spare.Id, TimeSpan.FromSeconds(10), ct);
        Assert.That(devnet.Nodes.Select(n => n.PeerId.ToString()), Does.Not.Contain(spare.Id));
        Assert.That((await devnet.RunLookupRoundAsync(ct)).Mailboxes.Select(m => m.Provider), Does.Not.Contain("devnet-d"));
    }
}
