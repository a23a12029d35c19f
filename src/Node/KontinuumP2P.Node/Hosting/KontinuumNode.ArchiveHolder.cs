using KontinuumP2P.Archive.Holders;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Node.Admission;
using KontinuumP2P.Node.Composition;

namespace KontinuumP2P.Node.Hosting;

public sealed partial class KontinuumNode
{
    /// <summary>The archive holder (<c>/kontinuum/archive/1.0.0</c>), when <see cref="KontinuumNodeOptions.ArchiveHolder"/> configured one and the node has started.</summary>
    public ArchiveHolderServer? ArchiveHolder => RunningServices.OfType<ArchiveHolderNodeService>().FirstOrDefault()?.Server;

    /// <summary>
    /// The <c>peers</c> archive sink over this started node: holders found through the DHT, each checked on connection
    /// (admitted, certificate with <c>archive</c>, its provider counted once towards the replicas).
    /// </summary>
    /// <exception cref="InvalidOperationException">The node has not started or has no host.</exception>
    public PeersSink OpenPeersArchiveSink(PeersSinkOptions? options = null)
    {
        var host = Host ?? throw new InvalidOperationException("the peers sink needs a node with a libp2p host");
        return new PeersSink(host, Dht, (peer, ct) => ArchiveHolderProviderAsync(host, peer, ct), options, Services.LoggerFactory);
    }

    /// <summary>The provider of an admitted archive holder; null for any other peer (or on the open network, where no one is vouched for).</summary>
    private async ValueTask<string?> ArchiveHolderProviderAsync(IPeerHost host, PeerId peer, CancellationToken cancellationToken)
    {
        if (Admission is not { } admission) return null;
        await host.ConnectAsync(peer, cancellationToken).ConfigureAwait(false);
        var verdict = await admission.WaitForVerdictAsync(peer, cancellationToken).ConfigureAwait(false);
        return verdict is { Status: AdmissionStatus.Admitted, Certificate: { } certificate }
            && certificate.Body.Capabilities.Contains(ArchiveHolderProtocol.HolderCapability, StringComparer.Ordinal)
            ? certificate.Body.Provider
            : null;
    }

    /// <summary>Whether a peer may store on our holder: admitted, with the <c>mailbox</c> capability (the pushers run on replicas).</summary>
    private async ValueTask<bool> MayStoreArchiveAsync(PeerId peer, CancellationToken cancellationToken)
    {
        if (Admission is not { } admission) return false;
        var verdict = await admission.WaitForVerdictAsync(peer, cancellationToken).ConfigureAwait(false);
        return verdict is { Status: AdmissionStatus.Admitted, Certificate: { } certificate }
            && certificate.Body.Capabilities.Contains(ArchiveHolderProtocol.PusherCapability, StringComparer.Ordinal);
    }

    /// <summary>Serves the holder protocol and announces it (and every stored object) through the DHT.</summary>
    internal sealed class ArchiveHolderNodeService(KontinuumNode node, IPeerHost host, ArchiveHolderOptions options) : INodeService
    {
        public ArchiveHolderServer? Server { get; private set; }

        public string Name => "archive-holder";

        public Task StartAsync(CancellationToken cancellationToken)
        {
            var dht = node.Dht;
            Server = ArchiveHolderServer.Start(host, options, node.MayStoreArchiveAsync, (key, ct) => dht.ProvideAsync(key, ct),
                node.Services.LoggerFactory, node.Services.TimeProvider, node.Services.MeterFactory);
            return Task.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            if (Server is { } server) await server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
