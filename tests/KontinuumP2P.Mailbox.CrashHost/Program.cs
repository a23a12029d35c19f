using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

// Usage: CrashHost <database path>. Serves /kontinuum/mailbox/1.0.0 on 127.0.0.1 (a fresh port and identity each run),
// prints "READY <multiaddr>/p2p/<peer id>" and serves until stdin closes or the process is killed.
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: CrashHost <database path>");
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
Console.WriteLine($"READY {host.ListenAddresses[0].WithPeerId(host.PeerId)}");
Console.Out.Flush();
await Console.In.ReadToEndAsync();
return 0;
