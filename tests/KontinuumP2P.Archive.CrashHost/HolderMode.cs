using KontinuumP2P.Archive.Holders;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

/// <summary>An archive holder in its own process, for SIGKILL tests of acknowledged stores.</summary>
internal static class HolderMode
{
    public static async Task<int> RunAsync(string directory)
    {
        using var identity = Ed25519Identity.Generate();
        await using var host = new PeerHost(new PeerHostOptions
        {
            Identity = identity,
            Transports = [new TcpTransport()],
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
        });
        await host.StartAsync(CancellationToken.None);
        await using var server = ArchiveHolderServer.Start(host, new ArchiveHolderOptions { Directory = directory, MaxConcurrentStores = 4 },
            (_, _) => ValueTask.FromResult(true), announce: null);
        Console.WriteLine("listening " + host.ListenAddresses[0].WithPeerId(host.PeerId));
        // Serves until the test kills the process (or closes stdin).
        await Console.In.ReadToEndAsync();
        return 0;
    }
}
