using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;
using KontinuumP2P.Testing.JsHarness;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// DHT GET/PUT latency of our <see cref="DhtNode"/> and of a js-libp2p kad-dht node, both joined to the same network
/// of js kad-dht servers over TCP loopback, in the same run. Every round js puts a key that we then get, and we put a
/// key that js then gets, so each GET crosses implementations. js times its own queries (the command's stdin/stdout
/// round trip is excluded); ours are timed around the call. A GET runs its query to the end on both sides.
/// </summary>
public sealed class DhtJsBench : IBench
{
    private const int RunToTheEnd = 1_000;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    /// <inheritdoc />
    public string Name => "dht-js";

    /// <inheritdoc />
    public string Description =>
        "DHT PUT/GET latency, ours vs js kad-dht, on one network of js servers; args: [--servers N] [--rounds R] [--kontinuum]";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var servers = IntArg(args, "--servers", 10);
        var rounds = IntArg(args, "--rounds", 50);
        var protocol = args.Contains("--kontinuum") ? DhtOptions.KontinuumProtocolId : DhtOptions.IpfsProtocolId;
        HarnessPaths.EnsureInstalled();

        await using var network = await JsDhtNetwork.StartAsync(servers, protocol, cancellationToken);
        var ours = new Series("ours");
        var js = new Series("js");
        for (var round = 0; round < rounds; round++)
        {
            var jsKey = $"/test/bench-js-{round}-{Guid.NewGuid():N}";
            var ourKey = $"/test/bench-us-{round}-{Guid.NewGuid():N}";

            var put = await network.JsClient.SendAsync("dht.put",
                new { key = jsKey, value = Convert.ToBase64String(JsPeer.TestRecordValue(1, "js")) }, null, cancellationToken);
            js.Put(put.GetProperty("ms").GetDouble(), put.GetProperty("stored").GetInt32());

            var watch = Stopwatch.StartNew();
            var acks = await network.Ours.PutValueAsync(Encoding.UTF8.GetBytes(ourKey), JsPeer.TestRecordValue(1, "us"), cancellationToken);
            ours.Put(watch.Elapsed.TotalMilliseconds, acks);

            watch.Restart();
            var found = 0;
            // A quorum no network this size reaches: our GET runs its query to the end, as js's does.
            await foreach (var _ in network.Ours.GetValueAsync(Encoding.UTF8.GetBytes(jsKey), quorum: RunToTheEnd, cancellationToken))
                found++;
            ours.Get(watch.Elapsed.TotalMilliseconds, found > 0);

            var got = await network.JsClient.SendAsync("dht.get", new { key = ourKey }, null, cancellationToken);
            js.Get(got.GetProperty("ms").GetDouble(), got.GetProperty("value").GetString() is { Length: > 0 });
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"DHT of {servers} js kad-dht servers ({protocol}), TCP loopback, {rounds} rounds; our join {network.JoinMs:0} ms, table {network.Ours.RoutingTableSize}"));
        Console.WriteLine($"{"client",-6} {"op",-4} {"median ms",10} {"p90 ms",8} {"max ms",8} {"ok",6} {"acks/put",9}");
        foreach (var series in new[] { ours, js }) series.Print();
        var putRatio = Median(ours.PutMs) / Median(js.PutMs);
        var getRatio = Median(ours.GetMs) / Median(js.GetMs);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ours/js median latency: put {putRatio:0.00}x, get {getRatio:0.00}x (below 1 = ours faster)"));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = Name, servers, rounds, protocol, putRatio, getRatio,
            ours = ours.Summary(), js = js.Summary(),
        }));
        return ours.Failures + js.Failures == 0 ? 0 : 1;
    }

    private static double Median(List<double> values) => Percentile(values, 0.5);

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private sealed class Series(string client)
    {
        private readonly List<int> _acks = [];
        private int _gets;

        public List<double> PutMs { get; } = [];

        public List<double> GetMs { get; } = [];

        public int Failures { get; private set; }

        public void Put(double ms, int acks)
        {
            PutMs.Add(ms);
            _acks.Add(acks);
            if (acks == 0) Failures++;
        }

        public void Get(double ms, bool found)
        {
            GetMs.Add(ms);
            _gets++;
            if (!found) Failures++;
        }

        public void Print()
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{client,-6} {"put",-4} {Median(PutMs),10:0.0} {Percentile(PutMs, 0.9),8:0.0} {PutMs.Max(),8:0.0} {_acks.Count(a => a > 0),6} {_acks.Average(),9:0.0}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{client,-6} {"get",-4} {Median(GetMs),10:0.0} {Percentile(GetMs, 0.9),8:0.0} {GetMs.Max(),8:0.0} {_gets - Failures + _acks.Count(a => a == 0),6} {"",9}"));
        }

        public object Summary() => new
        {
            putMedianMs = Median(PutMs), putP90Ms = Percentile(PutMs, 0.9), getMedianMs = Median(GetMs),
            getP90Ms = Percentile(GetMs, 0.9), meanAcks = _acks.Average(), failures = Failures,
        };
    }

    /// <summary>N js kad-dht servers meshed through a hub, one more js node as the js client, and our node joined through two of them.</summary>
    private sealed class JsDhtNetwork : IAsyncDisposable
    {
        private readonly List<JsPeer> _js = [];
        private Ed25519Identity? _identity;
        private PeerHost? _host;
        private DhtNode? _node;

        public JsPeer JsClient => _js[^1];

        public DhtNode Ours => _node ?? throw new InvalidOperationException("not started");

        public double JoinMs { get; private set; }

        public static async Task<JsDhtNetwork> StartAsync(int servers, string protocol, CancellationToken cancellationToken)
        {
            var network = new JsDhtNetwork();
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(StartTimeout);
                await network.StartCoreAsync(servers, protocol, deadline.Token);
                return network;
            }
            catch
            {
                await network.DisposeAsync();
                throw;
            }
        }

        private async Task StartCoreAsync(int servers, string protocol, CancellationToken ct)
        {
            var options = new JsPeerOptions { Dht = true, KadProtocol = protocol };
            var starting = Enumerable.Range(0, servers + 1).Select(_ => JsPeer.StartAsync(options, ct)).ToList();
            try
            {
                await Task.WhenAll(starting);
            }
            finally
            {
                foreach (var task in starting.Where(t => t.IsCompletedSuccessfully)) _js.Add(await task);
            }
            for (var i = 1; i < _js.Count; i++)
            {
                await _js[i].DialAsync(_js[0].AddressFor("/ip4/"), ct);
                if (i > 1) await _js[i].DialAsync(_js[i - 1].AddressFor("/ip4/"), ct);
            }
            // The hub must know everyone before either client starts measuring.
            while (await _js[0].RoutingTableSizeAsync(ct) < servers)
                await Task.Delay(TimeSpan.FromMilliseconds(100), ct);

            _identity = Ed25519Identity.Generate();
            _host = new PeerHost(new PeerHostOptions
            {
                Identity = _identity,
                Transports = [new TcpTransport()],
                ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            });
            await _host.StartAsync(ct);
            _node = new DhtNode(_host, new DhtOptions
            {
                ProtocolId = protocol,
                BootstrapPeers = [Multiaddr.Parse(_js[servers - 1].AddressFor("/ip4/")), Multiaddr.Parse(_js[servers / 2].AddressFor("/ip4/"))],
                Validators = new RecordValidators().Add(TestNamespaceValidator.Namespace, new TestNamespaceValidator()),
                Lookup = new LookupOptions { RequestTimeout = TimeSpan.FromSeconds(10), QueryTimeout = TimeSpan.FromSeconds(30) },
            });
            var join = Stopwatch.StartNew();
            await _node.StartAsync(ct);
            JoinMs = join.Elapsed.TotalMilliseconds;
        }

        public async ValueTask DisposeAsync()
        {
            if (_node is not null) await _node.DisposeAsync();
            if (_host is not null) await _host.DisposeAsync();
            _identity?.Dispose();
            await Task.WhenAll(_js.Select(js => js.DisposeAsync().AsTask()));
        }
    }
}
