// A host (TCP + Noise + Yamux, identify, ping) with mDNS discovery that dials what it discovers; driven by the
// Discovery tests inside a network namespace. One JSON object per stdout line:
//   {"event":"ready","peerId","addrs"}  {"event":"discovered","peerId","addrs","source","ms"}
//   {"event":"connected","peerId","direction","ms"}  {"event":"stats",...} at exit.
// Arguments: [--listen MA] [--no-dial] [--duration S]. Exits at stdin EOF, on a "stop" line, or after --duration.
using System.Diagnostics;
using System.Text.Json;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Discovery;
using KontinuumP2P.Net.Discovery.Mdns;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

var listen = Multiaddr.Parse("/ip4/127.0.0.1/tcp/0");
var dial = true;
var duration = TimeSpan.FromMinutes(2);
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--listen": listen = Multiaddr.Parse(args[++i]); break;
        case "--no-dial": dial = false; break;
        case "--duration": duration = TimeSpan.FromSeconds(double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture)); break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}

var output = new Lock();
void Emit(object value)
{
    lock (output) Console.Out.WriteLine(JsonSerializer.Serialize(value));
}

using var stop = new CancellationTokenSource(duration);
var clock = Stopwatch.StartNew();
using var identity = Ed25519Identity.Generate();
await using var host = new PeerHost(new PeerHostOptions { Identity = identity, Transports = [new TcpTransport()], ListenAddresses = [listen] });
await host.StartAsync(stop.Token);
host.PeerConnected += (_, e) => Emit(new
{
    @event = "connected", peerId = e.Peer.ToString(), direction = e.Connection?.Direction.ToString().ToLowerInvariant(), ms = clock.ElapsedMilliseconds,
});
await using var mdns = new MdnsService(host.PeerId, () => host.ListenAddresses);
mdns.Start();
await using var dialer = new DiscoveryDialer(host, mdns);
if (dial) dialer.Start();
Emit(new { @event = "ready", ms = clock.ElapsedMilliseconds, peerId = host.PeerId.ToString(), addrs = host.ListenAddresses.Select(a => a.WithPeerId(host.PeerId).ToString()) });

var reader = Task.Run(async () =>
{
    while (await Console.In.ReadLineAsync(stop.Token) is { } line)
    {
        if (line.Trim() == "stop") break;
    }
    await stop.CancelAsync();
});
try
{
    await foreach (var peer in mdns.DiscoverAsync(stop.Token))
    {
        Emit(new
        {
            @event = "discovered", peerId = peer.PeerId.ToString(), addrs = peer.Addresses.Select(a => a.ToString()),
            source = peer.Source.ToString().ToLowerInvariant(), ms = clock.ElapsedMilliseconds,
        });
    }
}
catch (OperationCanceledException)
{
    // duration over, stdin closed or "stop"
}
var s = mdns.Statistics;
Emit(new
{
    @event = "stats", ms = clock.ElapsedMilliseconds, queriesSent = s.QueriesSent, responsesSent = s.ResponsesSent,
    received = s.PacketsReceived, dropped = s.PacketsDropped, suppressed = s.ResponsesSuppressed, dialed = dialer.Connected,
});
try
{
    await reader;
}
catch (OperationCanceledException)
{
    // stopped by the duration
}
return 0;
