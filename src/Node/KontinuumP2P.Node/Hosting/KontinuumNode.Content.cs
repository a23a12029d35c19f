using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Node.Composition;

namespace KontinuumP2P.Node.Hosting;

public sealed partial class KontinuumNode
{
    /// <summary>The content server (large attachments, <c>/kontinuum/content/1.0.0</c>), running beside the mailbox server.</summary>
    public ContentServer? ContentServer => RunningServices.OfType<ContentNodeService>().FirstOrDefault()?.Server;

    /// <summary>
    /// The sending device's own content server (<see cref="KontinuumNodeOptions.ServeOwnContent"/>): offer an uploaded
    /// file with <see cref="ContentSenderServer.OfferAsync"/> and put <see cref="PeerId"/> and the listen addresses in
    /// the reference (<c>reference with { Sender, SenderAddresses }</c>) before pushing it. Null when not enabled.
    /// </summary>
    public ContentSenderServer? ContentSender => RunningServices.OfType<ContentSenderNodeService>().FirstOrDefault()?.Server;

    /// <summary>Serves the device's own contents read-only for as long as the node runs.</summary>
    internal sealed class ContentSenderNodeService(IPeerHost host) : INodeService
    {
        public ContentSenderServer? Server { get; private set; }

        public string Name => "content-sender";

        public Task StartAsync(CancellationToken cancellationToken)
        {
            Server = ContentSenderServer.Start(host);
            return Task.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            if (Server is { } server) await server.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Serves content next to the mailbox server with <see cref="KontinuumNodeOptions.Content"/> (<c>[content]</c>), or
    /// by default from the folder <c>content</c> beside the mailbox database with the default quota, TTL and limits;
    /// puts are authorised by the mailbox store's capabilities.
    /// </summary>
    internal sealed class ContentNodeService(KontinuumNode node, IPeerHost host, MailboxServerOptions mailbox) : INodeService
    {
        public ContentServer? Server { get; private set; }

        public string Name => "content";

        public Task StartAsync(CancellationToken cancellationToken)
        {
            var mailboxes = node.MailboxServer ?? throw new InvalidOperationException("the content service starts after the mailbox service");
            var options = node.Options.Content ?? new ContentServerOptions
            {
                Store = new ContentStoreOptions { Directory = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(mailbox.Store.DatabasePath)) ?? ".", "content") },
            };
            // With an archive pusher here, a complete content outlives its TTL (bounded) until the pusher archived it.
            if (node.Options.Archive is not null && options.Store.ArchiveHold is null)
            {
                options = options with
                {
                    Store = options.Store with
                    {
                        ArchiveHold = id => node.RunningServices.OfType<ArchiveNodeService>().FirstOrDefault() is not { } archive || !archive.IsContentArchived(id),
                    },
                };
            }
            Server = ContentServer.Start(host, options, mailboxes.Store,
                node.Services.LoggerFactory, node.Services.TimeProvider);
            return Task.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            if (Server is { } server) await server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
