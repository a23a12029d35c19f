using KontinuumP2P.Hq.Provisioning;

namespace KontinuumP2P.Hq.Tests.Service;

/// <summary>A stop the provisioner cannot carry out says so instead of passing for "stopped".</summary>
[TestFixture]
public sealed class LocalProcessProvisionerStopTests
{
    [Test]
    public async Task Stopping_a_node_this_provisioner_did_not_start_is_refused_with_the_reason()
    {
        await using var provisioner = new LocalProcessProvisioner("/bin/true", [], TimeSpan.FromSeconds(5));
        var id = KontinuumP2P.Core.Identity.Ed25519Identity.Generate().PeerId.ToString();
        var error = Assert.ThrowsAsync<InvalidOperationException>(() => provisioner.StopAsync(id, TimeSpan.FromSeconds(1), CancellationToken.None));
        Assert.That(error!.Message, Does.Contain(id).And.Contain("stop it by hand"));
    }
}
