using System.Diagnostics;
using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Holders;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Archive.Tests.Holders;

/// <summary>
/// An archive holder process SIGKILLed at random points while packs stream in: after each restart every pack it
/// acknowledged is there and byte-identical, and nothing it holds fails its hash (no torn write is ever visible).
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(240_000)]
public sealed class HolderCrashTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-holder-crash-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    [Category("Slow")]
    public async Task Acknowledged_packs_survive_SIGKILL_at_random_points(CancellationToken ct)
    {
        var held = Path.Combine(_dir, "held");
        var random = new Random(4242);
        var acked = new Dictionary<ArchiveObjectId, byte[]>();
        using var identity = Ed25519Identity.Generate();
        await using var client = new PeerHost(new PeerHostOptions { Identity = identity, Transports = [new TcpTransport()] });
        var holders = new ArchiveHolderClient(client, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60));
        for (var round = 0; round < 10; round++)
        {
            using var process = StartHolder(held);
            try
            {
                var listening = await process.StandardOutput.ReadLineAsync(ct) ?? throw new IOException("the holder printed nothing");
                var address = Multiaddr.Parse(listening["listening ".Length..]);
                await client.DialAsync(address, ct);
                var peer = address.PeerId!;

                // Everything acknowledged before is still there and intact.
                foreach (var (id, bytes) in acked) Assert.That(await holders.FetchAsync(peer, id, 1 << 20, ct), Is.EqualTo(bytes), $"round {round}: {id}");

                // Stores in flight (several at once) until a random point, then SIGKILL without warning.
                var killAfter = random.Next(1, 12);
                var inFlight = new List<Task>();
                using var kill = CancellationTokenSource.CreateLinkedTokenSource(ct);
                for (var i = 0; i < 4; i++)
                {
                    var seed = random.Next();
                    inFlight.Add(Task.Run(async () =>
                    {
                        var r = new Random(seed);
                        while (!kill.IsCancellationRequested)
                        {
                            var bytes = new byte[r.Next(1, 300 << 10)];
                            r.NextBytes(bytes);
                            var id = ArchiveObjectId.Pack(Hashing.Blake3(bytes));
                            try
                            {
                                await holders.StoreAsync(peer, id, bytes, replace: false, kill.Token);
                            }
                            catch (Exception e) when (e is IOException or OperationCanceledException or InvalidDataException)
                            {
                                return;
                            }
                            lock (acked)
                            {
                                acked[id] = bytes;
                                if (acked.Count >= killAfter + round * 12) process.Kill(); // SIGKILL while the others are mid-store
                            }
                        }
                    }, ct));
                }
                await process.WaitForExitAsync(ct);
                await kill.CancelAsync();
                await Task.WhenAll(inFlight);
            }
            finally
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
            }
        }
        Assert.That(acked, Has.Count.GreaterThanOrEqualTo(10));

        // The store on disk after the last kill: every acknowledged pack, and only objects that hash to their names.
        await using var store = new DirectorySink(held);
        var names = new List<ArchiveObjectId>();
        await foreach (var id in store.ListAsync(ArchiveObjectKind.Pack, ct)) names.Add(id);
        Assert.That(names, Is.SupersetOf(acked.Keys));
        foreach (var id in names)
        {
            var bytes = await store.GetAsync(id, 1 << 20, ct);
            Assert.That(Hashing.Blake3(bytes!), Is.EqualTo(id.Digest.ToArray()), $"{id} is whole");
        }
    }

    private static Process StartHolder(string directory)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardInput = true, RedirectStandardError = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "KontinuumP2P.Archive.CrashHost.dll"));
        start.ArgumentList.Add("holder");
        start.ArgumentList.Add(directory);
        return Process.Start(start)!;
    }
}
