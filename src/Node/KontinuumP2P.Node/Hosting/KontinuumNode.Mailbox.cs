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
            // With an archive pusher, acknowledged blobs of the mailboxes it archives wait for it before they are trimmed.
            var effective = node.Options.Archive is { } archive ? options with { Store = options.Store with { ArchiveHold = id => archive.Selects(id) } } : options;
            Server = await MailboxServer.StartAsync(host, effective, services.LoggerFactory, services.MeterFactory, services.TimeProvider,
                cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            if (Server is { } server) await server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
