using KontinuumP2P.Mailbox.Server;

namespace KontinuumP2P.Node.Hosting;

public sealed partial class KontinuumNode
{
    /// <summary>The mailbox server, when <see cref="KontinuumNodeOptions.Mailbox"/> enabled it.</summary>
    public MailboxServer? MailboxServer { get; private set; }

    // Options validation has already refused a mailbox without the certificate capability.
    private async Task StartMailboxAsync(CancellationToken cancellationToken)
    {
        if (_options.Mailbox is not { } mailbox) return;
        MailboxServer = await MailboxServer.StartAsync(Host, mailbox, _options.LoggerFactory, _options.MeterFactory, _options.TimeProvider,
            cancellationToken).ConfigureAwait(false);
    }

    private async Task StopMailboxAsync()
    {
        if (MailboxServer is { } server) await server.DisposeAsync().ConfigureAwait(false);
    }
}
