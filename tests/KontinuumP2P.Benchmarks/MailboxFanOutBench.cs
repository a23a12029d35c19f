using System.Diagnostics;
using System.Text.Json;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;
using KontinuumP2P.Devnet;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// Group client fan-out: latency of <see cref="GroupClient.PushAsync"/> (seal, outbox commit, push) of 1 KiB blobs to
/// a group of 3 mailbox servers (TCP loopback, Noise, Yamux, SQLite) returning at the first durable ack and at all
/// three, against the same client pushing to a group of one mailbox in the same run.
/// </summary>
public sealed class MailboxFanOutBench : IBench
{
    /// <inheritdoc />
    public string Name => "mailbox-fanout";

    /// <inheritdoc />
    public string Description => "group client push p50/p99: first of 3 acks and all 3 acks vs a 1-mailbox group, 1 KiB blobs over host streams";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var pushes = (int)BenchArgs.GetLong(args, "--pushes", 2_000);
        var directory = Path.Combine(Path.GetTempPath(), "kp-fanout-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        using var authority = new DevnetAuthority("bench", 1, 1, TimeProvider.System);
        var anchors = TrustAnchors.Create(authority.Network.Anchors!, TimeProvider.System);
        var identities = new List<Ed25519Identity>();
        var hosts = new List<PeerHost>();
        var servers = new List<MailboxServer>();
        var endpoints = new List<MailboxEndpoint>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var identity = Ed25519Identity.Generate();
                identities.Add(identity);
                var host = new PeerHost(new PeerHostOptions { Identity = identity, Transports = [new TcpTransport()], ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] });
                await host.StartAsync(cancellationToken);
                hosts.Add(host);
                servers.Add(await MailboxServer.StartAsync(host, new MailboxServerOptions
                {
                    Store = new MailboxStoreOptions { DatabasePath = Path.Combine(directory, $"server-{i}.db") },
                    PushesPerMinute = 10_000_000,
                    RequestsPerSecond = 10_000_000,
                }, cancellationToken: cancellationToken));
                endpoints.Add(new MailboxEndpoint(identity.PeerId, host.ListenAddresses,
                    authority.IssueCertificate(identity, TimeSpan.FromDays(1), ["mailbox"], $"provider-{i}")));
            }
            var clientIdentity = Ed25519Identity.Generate();
            identities.Add(clientIdentity);
            var clientHost = new PeerHost(new PeerHostOptions { Identity = clientIdentity, Transports = [new TcpTransport()] });
            await clientHost.StartAsync(cancellationToken);
            hosts.Add(clientHost);
            var resolver = PeerMailboxResolver.Static(endpoints);
            var verifier = new CertificateMailboxVerifier(anchors);
            var slots = endpoints.Select(e => e.PeerId.ToString()).ToList();

            async Task<double[]> MeasureAsync(string label, IReadOnlyList<string> groupSlots, int requiredAcks)
            {
                using var secret = GroupSecret.Generate();
                using var store = GroupStore.Create(Path.Combine(directory, label), secret, "bench", groupSlots, requiredAcks);
                await using var client = new GroupClient(store, clientHost, resolver, verifier);
                var blob = new byte[1024];
                for (var i = 0; i < 100; i++) await client.PushAsync(blob, cancellationToken); // warm-up, sessions open
                var latencies = new double[pushes];
                for (var i = 0; i < pushes; i++)
                {
                    var watch = Stopwatch.StartNew();
                    var outcome = await client.PushAsync(blob, cancellationToken);
                    latencies[i] = watch.Elapsed.TotalMilliseconds;
                    if (!outcome.Durable) throw new InvalidOperationException($"{label}: push not durable");
                }
                Array.Sort(latencies);
                Console.WriteLine($"{label,-22} {pushes:N0} pushes  p50 {P(latencies, 0.5):0.000} ms  p99 {P(latencies, 0.99):0.000} ms");
                return latencies;
            }

            var single = await MeasureAsync("1 mailbox (baseline)", [slots[0]], 1);
            var first = await MeasureAsync("3 mailboxes, first ack", slots, 1);
            var all = await MeasureAsync("3 mailboxes, all acks", slots, 3);
            var results = new Dictionary<string, object>
            {
                ["bench"] = Name,
                ["pushes"] = pushes,
                ["singleP50Ms"] = Math.Round(P(single, 0.5), 3),
                ["singleP99Ms"] = Math.Round(P(single, 0.99), 3),
                ["firstAckP50Ms"] = Math.Round(P(first, 0.5), 3),
                ["firstAckP99Ms"] = Math.Round(P(first, 0.99), 3),
                ["allAcksP50Ms"] = Math.Round(P(all, 0.5), 3),
                ["allAcksP99Ms"] = Math.Round(P(all, 0.99), 3),
                ["firstAckP50VsSingle"] = Math.Round(P(first, 0.5) / P(single, 0.5), 2),
            };
            Console.WriteLine(JsonSerializer.Serialize(results));
            return 0;
        }
        finally
        {
            foreach (var server in servers) await server.DisposeAsync();
            foreach (var host in hosts) await host.DisposeAsync();
            foreach (var identity in identities) identity.Dispose();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }

    private static double P(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
}
