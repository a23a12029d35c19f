using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Node.Networks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace KontinuumP2P.Node.Tests;

[CancelAfter(60_000)]
public class EmbeddingTests
{
    [Test]
    public async Task AddKontinuumStartsAndStopsTheNodeWithTheHost(CancellationToken cancellationToken)
    {
        using var identity = Ed25519Identity.Generate();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton<NodeUser>();
        builder.Services.AddKontinuum(o =>
        {
            o.Identity = identity;
            o.Network = NetworkDefinition.Open;
            o.ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")];
        });
        using var app = builder.Build();
        await app.StartAsync(cancellationToken);
        var node = app.Services.GetRequiredService<KontinuumNode>();
        Assert.Multiple(() =>
        {
            Assert.That(app.Services.GetRequiredService<NodeUser>().Node, Is.SameAs(node), "constructor injection gets the hosted node");
            Assert.That(node.PeerId, Is.EqualTo(identity.PeerId));
            Assert.That(node.ListenAddresses, Is.Not.Empty);
            Assert.That(node.Dht.Options.Mode, Is.EqualTo(Dht.DhtMode.Server));
            Assert.That(node.Admission, Is.Null, "the open network has no admission");
        });
        // This file imports Microsoft.Extensions.Hosting (Host.CreateApplicationBuilder above) and our host namespaces
        // together: with the old names IHost/Host this would not compile (CS0104).
        IPeerHost peerHost = node.Host!;
        Assert.That(peerHost, Is.InstanceOf<PeerHost>());
        await app.StopAsync(cancellationToken);
        Assert.That(node.Host!.ListenAddresses, Is.Empty, "stopping the host stopped the node's listeners");
        Assert.That(() => node.StartAsync(cancellationToken), Throws.InvalidOperationException, "a stopped node does not start again");
    }

    /// <summary>An app service that takes the node in its constructor.</summary>
    private sealed class NodeUser(KontinuumNode node)
    {
        public KontinuumNode Node { get; } = node;
    }

    [Test]
    public void InvalidOptionsFailAtStartNamingTheSetting()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddKontinuum(o => o.Network = NetworkDefinition.Open);
        using var app = builder.Build();
        var error = Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(CancellationToken.None));
        Assert.That(error!.Message, Does.Contain("Identity"));
    }
}
