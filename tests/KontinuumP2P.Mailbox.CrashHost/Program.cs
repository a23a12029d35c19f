using System.Text;
using System.Text.Json;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

// Child processes the crash tests kill with SIGKILL.
//   CrashHost <database> [<content folder>] | CrashHost <database> <identity seed hex> <port> [<content folder>]
//     A mailbox server on 127.0.0.1 (a fresh port and identity unless given, so a restart comes back at the same
//     address as the same peer), also serving /kontinuum/content/1.0.0 when a content folder is given. Prints
//     "READY <multiaddr>/p2p/<peer id>" and serves until stdin closes or it is killed.
//   CrashHost client <group directory> <fleet json> <run> <count>
//     A group device: first retries its whole outbox, then pushes <count> blobs "run <run> blob <i>" one after another,
//     printing "ACCEPTED <run> <i> <blob id>" once PushAsync returned (the blob is in the persistent outbox, and at the
//     first acknowledgement also on a mailbox). Prints "DONE" at the end.
//   CrashHost get <holder multiaddr with /p2p/> <reference text> <output path>
//     Downloads one content from one holder on one stream, a chunk per fetch. After each verified chunk it prints
//     "PROGRESS <done> <count>" and waits for a line on stdin before going on, so the test kills it at an exact point
//     of progress; prints "DONE <resumed> <fetched>" at the end.
if (args.Length >= 1 && args[0] == "client") return await RunClientAsync(args);
if (args.Length >= 1 && args[0] == "get") return await RunGetAsync(args);
if (args.Length is not (1 or 2 or 3 or 4))
{
    Console.Error.WriteLine("usage: CrashHost <database path> [<seed hex> <port>] [<content folder>] | CrashHost client <group dir> <fleet json> <run> <count>");
    return 2;
}
var fixedIdentity = args.Length >= 3;
using var identity = fixedIdentity ? Ed25519Identity.FromSeed(Convert.FromHexString(args[1])) : Ed25519Identity.Generate();
var port = fixedIdentity ? args[2] : "0";
var contentFolder = args.Length is 2 or 4 ? args[^1] : null;
await using var host = new PeerHost(new PeerHostOptions
{
    Identity = identity,
    Transports = [new TcpTransport()],
    ListenAddresses = [Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{port}")],
});
await host.StartAsync(CancellationToken.None);
await using var server = await MailboxServer.StartAsync(host, new MailboxServerOptions
{
    Store = new MailboxStoreOptions { DatabasePath = args[0] },
    PushesPerMinute = 100_000_000,
    RequestsPerSecond = 10_000_000,
});
await using var content = contentFolder is not null
    ? ContentServer.Start(host, new ContentServerOptions { Store = new ContentStoreOptions { Directory = contentFolder } }, server.Store)
    : null;
Console.WriteLine($"READY {host.ListenAddresses[0].WithPeerId(host.PeerId)}");
Console.Out.Flush();
await Console.In.ReadToEndAsync();
return 0;

static async Task<int> RunClientAsync(string[] args)
{
    if (args.Length != 5)
    {
        Console.Error.WriteLine("usage: CrashHost client <group dir> <fleet json> <run> <count>");
        return 2;
    }
    var fleet = JsonSerializer.Deserialize<CrashFleet>(await File.ReadAllTextAsync(args[2])) ?? throw new InvalidDataException("empty fleet file");
    var run = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
    var count = int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture);
    var set = new AnchorSet(1, [new Anchor(Convert.FromHexString(fleet.AnchorPublicKey), "test-anchor")], certThreshold: 1, crlThreshold: 1, configThreshold: 1);
    var anchors = TrustAnchors.Create(set, TimeProvider.System);
    var endpoints = fleet.Servers.Select(s => (s.Slot, Address: Multiaddr.Parse(s.Address), Certificate: Certificate.Decode(Convert.FromBase64String(s.Certificate))))
        .ToList();
    var resolver = new PeerMailboxResolver(
        (peer, _) => Task.FromResult(endpoints.Where(e => peer.Equals(e.Address.PeerId))
            .Select(e => new MailboxEndpoint(peer, [e.Address.WithoutPeerId()], e.Certificate)).FirstOrDefault()),
        endpoints.ToDictionary(e => e.Slot, e => e.Address.PeerId!));
    using var identity = Ed25519Identity.Generate();
    await using var host = new PeerHost(new PeerHostOptions { Identity = identity, Transports = [new TcpTransport()] });
    await host.StartAsync(CancellationToken.None);
    using var store = GroupStore.Open(args[1]);
    await using var client = new GroupClient(store, host, resolver, new CertificateMailboxVerifier(anchors), new GroupClientOptions
    {
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PushTimeout = TimeSpan.FromSeconds(10),
    });
    using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
    await client.FlushAsync(all: true, timeout.Token);
    for (var i = 0; i < count; i++)
    {
        var outcome = await client.PushAsync(Encoding.UTF8.GetBytes($"run {run} blob {i}"), timeout.Token);
        Console.WriteLine($"ACCEPTED {run} {i} {Convert.ToHexString(outcome.Id.Digest)}");
    }
    Console.WriteLine("DONE");
    return 0;
}

static async Task<int> RunGetAsync(string[] args)
{
    if (args.Length != 4)
    {
        Console.Error.WriteLine("usage: CrashHost get <holder multiaddr> <reference text> <output path>");
        return 2;
    }
    var address = Multiaddr.Parse(args[1]);
    var reference = ContentReference.ParseText(args[2]);
    using var identity = Ed25519Identity.Generate();
    await using var host = new PeerHost(new PeerHostOptions { Identity = identity, Transports = [new TcpTransport()] });
    await host.StartAsync(CancellationToken.None);
    using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
    var client = new ContentClient(host, new ContentClientOptions { StreamsPerHolder = 1, FetchBatch = 1, FetchDepth = 1 });
    var download = await client.DownloadAsync(reference, [new ContentHolder(address.PeerId!, [address.WithoutPeerId()])], args[3],
        new LockstepProgress(), timeout.Token);
    Console.WriteLine($"DONE {download.ChunksResumed} {download.ChunksFetched}");
    return 0;
}

/// <summary>Reports each verified chunk and holds the (only) fetch worker until the test answers.</summary>
internal sealed class LockstepProgress : IProgress<ContentProgress>
{
    public void Report(ContentProgress value)
    {
        Console.WriteLine($"PROGRESS {value.ChunksDone} {value.ChunkCount}");
        Console.Out.Flush();
        _ = Console.In.ReadLine();
    }
}

/// <summary>What a client child needs to reach the test's mailboxes.</summary>
internal sealed record CrashFleet(string AnchorPublicKey, IReadOnlyList<CrashFleetServer> Servers);

/// <summary>One mailbox: its slot name, address with /p2p/, and certificate (base64).</summary>
internal sealed record CrashFleetServer(string Slot, string Address, string Certificate);
