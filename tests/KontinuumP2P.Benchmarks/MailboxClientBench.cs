using System.Text.Json;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// The client side of <c>mailbox --clients process</c>: started by the mailbox bench as its child, it dials the bench's
/// mailbox server, runs the closed-loop and open-loop push phases and reports each as one line on stdout, so the
/// server's process carries only the server's CPU and GC, as a mailbox node's own process would.
/// Lines: <c>@ready</c> (sessions open and warmed up), <c>@closed {json}</c>, <c>@open {json}</c>; anything else is
/// the bench's human-readable output, echoed by the parent.
/// </summary>
public sealed class MailboxClientBench : IBench
{
    /// <inheritdoc />
    public string Name => "mailbox-client";

    /// <inheritdoc />
    public string Description => "client process of `mailbox --clients process` (args: --server MULTIADDR --sessions S --inflight F --pushes N --rate R --rate-seconds T --connections C)";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var serverIndex = Array.IndexOf(args, "--server");
        if (serverIndex < 0 || serverIndex + 1 >= args.Length) throw new ArgumentException("--server MULTIADDR is required");
        var server = Multiaddr.Parse(args[serverIndex + 1]);
        var sessions = (int)BenchArgs.GetLong(args, "--sessions", 8);
        var inFlight = (int)BenchArgs.GetLong(args, "--inflight", 4);
        var pushes = (int)BenchArgs.GetLong(args, "--pushes", 50_000);
        var rate = BenchArgs.GetLong(args, "--rate", 10_000);
        var seconds = BenchArgs.GetLong(args, "--rate-seconds", 5);
        var connections = (int)Math.Max(1, BenchArgs.GetLong(args, "--connections", 1));
        var serverPeer = server.PeerId ?? throw new ArgumentException("--server needs a /p2p/ peer id");

        var hosts = new List<(Ed25519Identity Identity, PeerHost Host)>();
        var clients = new List<MailboxSession>();
        try
        {
            for (var i = 0; i < connections; i++)
            {
                var identity = Ed25519Identity.Generate();
                var host = new PeerHost(new PeerHostOptions { Identity = identity, Transports = [new TcpTransport()] });
                hosts.Add((identity, host));
                await host.DialAsync(server, cancellationToken);
            }
            for (var i = 0; i < sessions; i++)
            {
                var (mailboxId, capability, deviceId) = MailboxBench.NewCredentials();
                var session = await MailboxSession.ConnectAsync(hosts[i % connections].Host, serverPeer, new MailboxSessionOptions { MaxInFlight = 256 }, cancellationToken);
                await session.OpenAsync(mailboxId, capability, deviceId, default, cancellationToken);
                clients.Add(session);
            }
            var blob = System.Security.Cryptography.RandomNumberGenerator.GetBytes(1024);
            await MailboxBench.PushLoadAsync(clients, inFlight, Math.Min(pushes / 10, 5_000), blob, cancellationToken); // warm-up
            Console.WriteLine("@ready");
            var cpu = MailboxBench.CpuTime();
            var (latencies, elapsed) = await MailboxBench.PushLoadAsync(clients, inFlight, pushes, blob, cancellationToken);
            cpu = MailboxBench.CpuTime() - cpu;
            var closed = new Dictionary<string, object>
            {
                ["pushesPerSecond"] = pushes / elapsed.TotalSeconds,
                ["p50Ms"] = MailboxBench.Percentile(latencies, 0.50),
                ["p99Ms"] = MailboxBench.Percentile(latencies, 0.99),
                ["clientCpuMicrosPerPush"] = cpu.TotalMicroseconds / pushes,
            };
            Console.WriteLine("@closed " + JsonSerializer.Serialize(closed));
            if (rate > 0)
            {
                var open = new Dictionary<string, object>();
                await MailboxOpenLoop.RunAndReportAsync(clients, rate, seconds, blob, open, cancellationToken);
                Console.WriteLine("@open " + JsonSerializer.Serialize(open));
            }
            foreach (var session in clients) await session.DisposeAsync();
            clients.Clear();
            return 0;
        }
        finally
        {
            foreach (var session in clients) await session.DisposeAsync();
            foreach (var (identity, host) in hosts)
            {
                await host.DisposeAsync();
                identity.Dispose();
            }
        }
    }
}
