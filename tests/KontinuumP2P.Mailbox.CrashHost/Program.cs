using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

// Usage: CrashHost <database path> [content folder]. Serves /kontinuum/mailbox/1.0.0 (and /kontinuum/content/1.0.0 when
// a content folder is given) on 127.0.0.1 (a fresh port and identity each run), prints "READY <multiaddr>/p2p/<peer id>"
// and serves until stdin closes or the process is killed.
if (args.Length is not (1 or 2))
{
    Console.Error.WriteLine("usage: CrashHost <database path> [content folder]");
    return 2;
}
using var identity = Ed25519Identity.Generate();
await using var host = new PeerHost(new PeerHostOptions
{
    Identity = identity,
    Transports = [new TcpTransport()],
    ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
});
await host.StartAsync(CancellationToken.None);
await using var server = await MailboxServer.StartAsync(host, new MailboxServerOptions
{
    Store = new MailboxStoreOptions { DatabasePath = args[0] },
    PushesPerMinute = 100_000_000,
    RequestsPerSecond = 10_000_000,
});
await using var content = args.Length == 2 ? ContentServer.Start(host, new ContentServerOptions { Store = new ContentStoreOptions { Directory = args[1] } }, server.Store) : null;
Console.WriteLine($"READY {host.ListenAddresses[0].WithPeerId(host.PeerId)}");
Console.Out.Flush();
await Console.In.ReadToEndAsync();
return 0;
