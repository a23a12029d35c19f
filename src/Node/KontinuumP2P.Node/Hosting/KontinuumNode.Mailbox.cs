using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Node.Composition;

namespace KontinuumP2P.Node.Hosting;

public sealed partial class KontinuumNode
{
    /// <summary>The mailbox server, when <see cref="KontinuumNodeOptions.Mailbox"/> enabled it and the node has started.</summary>
    public MailboxServer? MailboxServer => RunningServices.OfType<MailboxNodeService>().FirstOrDefault()?.Server;

    /// <summary>The mailbox server composed into a node with a libp2p host (options validation has already refused one without the capability).</summary>
    internal sealed class MailboxNodeService(KontinuumNode node, IPeerHost host, MailboxServerOptions options) : INodeService
    {
        public MailboxServer? Server { get; private set; }

        public string Name => "mailbox";

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var services = node.Services;
            Server = await MailboxServer.StartAsync(host, options, services.LoggerFactory, services.MeterFactory, services.TimeProvider,
                cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            if (Server is { } server) await server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
