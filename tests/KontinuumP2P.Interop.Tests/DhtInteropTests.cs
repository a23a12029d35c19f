using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Testing.JsHarness;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Interop.Tests;

/// <summary>
/// Our <see cref="DhtNode"/> in a network of js-libp2p kad-dht servers (the harness, <c>--dht</c>): joining and peer
/// routing both ways, routing-table membership both ways, <c>/test/</c> records and provider records both ways, and
/// invalid records refused. One js network and one node of ours per fixture (per kad protocol id); every test uses its
/// own keys, and the one test that needs a peer we never contacted starts it itself.
/// </summary>
[TestFixture(DhtOptions.IpfsProtocolId)]
[TestFixture(DhtOptions.KontinuumProtocolId)]
[Category("Interop")]
public sealed class DhtInteropTests(string kadProtocol)
{
    private const int JsPeerCount = 10;
    private const string RejectedInstrument = "kontinuum.dht.records.rejected";
    private static readonly TimeSpan SetupTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan PollTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);
    // js runs its first self-query 1 s after start; a peer that must not learn of us waits it out with an empty table.
    private static readonly TimeSpan JsInitialSelfQuery = TimeSpan.FromSeconds(3);

    private readonly List<JsPeer> _js = [];
    private readonly ConcurrentDictionary<PeerId, byte> _everConnected = new();
    private Ed25519Identity? _identity;
    private PeerHost? _host;
    private DhtNode? _node;
    private RejectionCounter? _rejections;

    private JsPeerOptions JsOptions => new() { Dht = true, KadProtocol = kadProtocol };
    private PeerHost OurHost => _host ?? throw new InvalidOperationException("setup did not run");
    private DhtNode Node => _node ?? throw new InvalidOperationException("setup did not run");
    private RejectionCounter Rejections => _rejections ?? throw new InvalidOperationException("setup did not run");

    [OneTimeSetUp]
    public async Task StartNetworkAsync()
    {
        using var deadline = new CancellationTokenSource(SetupTimeout);
        var ct = deadline.Token;
        try
        {
            await StartCoreAsync(ct);
        }
        catch
        {
            await StopNetworkAsync();
            throw;
        }
    }

    private async Task StartCoreAsync(CancellationToken ct)
    {
        var started = Stopwatch.StartNew();
        var starting = Enumerable.Range(0, JsPeerCount).Select(_ => JsPeer.StartAsync(JsOptions, ct)).ToList();
        try
        {
            _js.AddRange(await Task.WhenAll(starting));
        }
        catch
        {
            // WhenAll has let every start finish: keep the peers that did start, for the teardown.
            foreach (var task in starting.Where(t => t.IsCompletedSuccessfully)) _js.Add(await task);
            throw;
        }
        // A small mesh: each js peer dials the hub (0) and its predecessor; the hub ends up knowing everyone.
        await Task.WhenAll(Enumerable.Range(1, JsPeerCount - 1).Select(async i =>
        {
            await _js[i].DialAsync(_js[0].AddressFor("/ip4/"), ct);
            if (i > 1) await _js[i].DialAsync(_js[i - 1].AddressFor("/ip4/"), ct);
        }));
        await PollAsync(async () => await _js[0].RoutingTableSizeAsync(ct) >= JsPeerCount - 1, "the js hub's table stays short", ct);
        var jsReady = started.Elapsed;

        _identity = Ed25519Identity.Generate();
        _host = new PeerHost(new PeerHostOptions
        {
            Identity = _identity,
            Transports = [new TcpTransport()],
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
        });
        _host.PeerConnected += (_, e) => _everConnected.TryAdd(e.Peer, 0);
        await _host.StartAsync(ct);
        _rejections = new RejectionCounter();
        // Bootstrap through two js peers that are not the hub; the join must find the rest through them.
        _node = new DhtNode(_host, new DhtOptions
        {
            ProtocolId = kadProtocol,
            BootstrapPeers = [Multiaddr.Parse(_js[JsPeerCount - 1].AddressFor("/ip4/")), Multiaddr.Parse(_js[JsPeerCount / 2].AddressFor("/ip4/"))],
            Validators = new RecordValidators().Add(TestNamespaceValidator.Namespace, new TestNamespaceValidator()),
            Lookup = new LookupOptions { RequestTimeout = TimeSpan.FromSeconds(10), QueryTimeout = TimeSpan.FromSeconds(30) },
        }, meterFactory: _rejections);
        var joining = Stopwatch.StartNew();
        await _node.StartAsync(ct);
        await TestContext.Progress.WriteLineAsync(
            $"[{kadProtocol}] {JsPeerCount} js peers up and meshed in {jsReady.TotalSeconds:0.0} s; our join took "
            + $"{joining.Elapsed.TotalMilliseconds:0} ms; our table {_node.RoutingTableSize}");
    }

    [OneTimeTearDown]
    public async Task StopNetworkAsync()
    {
        if (_node is not null) await _node.DisposeAsync();
        if (_host is not null) await _host.DisposeAsync();
        _identity?.Dispose();
        _rejections?.Dispose();
        await Task.WhenAll(_js.Select(js => js.DisposeAsync().AsTask()));
        (_node, _host, _identity, _rejections) = (null, null, null, null);
        _js.Clear();
    }

    [Test, CancelAfter(90_000)]
    public async Task Join_WeFindAPeerWeNeverContacted_AndJsFindsUs(CancellationToken ct)
    {
        await using var late = await StartUncontactedPeerAsync(ct);
        var latePeer = PeerId.Parse(late.PeerId);

        var watch = Stopwatch.StartNew();
        var found = await Node.FindPeerAsync(latePeer, ct);
        var ourFindMs = watch.Elapsed.TotalMilliseconds;
        Assert.That(found, Is.Not.Null, "our FindPeerAsync did not find the late js peer");
        Assert.That(found!.Addresses.Select(a => a.ToString()), Does.Contain(WithoutPeerId(late.AddressFor("/ip4/"))));
        Assert.That(found.Statistics.Requests, Is.GreaterThan(0));
        Assert.That(_everConnected.ContainsKey(latePeer), Is.False, "FindPeerAsync should learn the address from others");

        // The late peer knows only the hub: js must walk the network (rpcs > 0) to reach our record of ourselves.
        watch.Restart();
        var reply = await late.SendAsync("dht.findPeer", new { peer = OurHost.PeerId.ToString() }, null, ct);
        var jsFindMs = watch.Elapsed.TotalMilliseconds;
        var addrs = reply.GetProperty("addrs").EnumerateArray().Select(a => a.GetString()).ToList();
        Assert.That(addrs, Does.Contain(OurHost.ListenAddresses[0].ToString()));
        Assert.That(reply.GetProperty("rpcs").GetInt32(), Is.GreaterThan(0));
        var fromMember = await _js[1].FindPeerAsync(OurHost.PeerId.ToString(), ct);
        Assert.That(fromMember.Addrs, Does.Contain(OurHost.ListenAddresses[0].ToString()));
        await TestContext.Progress.WriteLineAsync($"[{kadProtocol}] our FindPeer {ourFindMs:0} ms "
            + $"({found.Statistics.Requests} requests, {found.Statistics.Hops} hops); js findPeer of us {jsFindMs:0} ms");

        using var nobody = Ed25519Identity.Generate();
        Assert.That(await Node.FindPeerAsync(nobody.PeerId, ct), Is.Null, "found a peer that does not exist");
    }

    /// <summary>
    /// A js DHT peer that joins after us through the hub only, so that we never talk to it. js runs a self-query 1 s
    /// after start, which would lead it to us: it waits that out with an empty table. Should it still reach us (a very
    /// late timer on a loaded machine), another one is started, at most three in all.
    /// </summary>
    private async Task<JsPeer> StartUncontactedPeerAsync(CancellationToken ct)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var late = await JsPeer.StartAsync(JsOptions, ct);
            try
            {
                await Task.Delay(JsInitialSelfQuery, ct);
                await late.DialAsync(_js[0].AddressFor("/ip4/"), ct);
                await PollAsync(async () => (await RoutingTableOfAsync(_js[0], ct)).Contains(late.PeerId), "the js hub never admitted the late peer", ct);
                if (!_everConnected.ContainsKey(PeerId.Parse(late.PeerId))) return late;
                await TestContext.Progress.WriteLineAsync($"late js peer {late.PeerId} reached us on its own; starting another");
            }
            catch
            {
                await late.DisposeAsync();
                throw;
            }
            await late.DisposeAsync();
        }
        Assert.Fail("every late js peer reached our node before we looked it up");
        throw new UnreachableException();
    }

    [Test, CancelAfter(60_000)]
    public async Task RoutingTables_WeAreInJsTables_AndJsPeersInOurs(CancellationToken ct)
    {
        var jsIds = _js.Select(j => PeerId.Parse(j.PeerId)).ToHashSet();
        var ours = Node.GetRoutingTable().Select(e => e.PeerId).Where(jsIds.Contains).ToList();
        Assert.That(ours, Has.Count.GreaterThanOrEqualTo(JsPeerCount / 2), "few js peers in our table after the join");
        Assert.That(ours.Select(p => p.ToString()), Does.Contain(_js[JsPeerCount - 1].PeerId), "a bootstrap peer is missing");

        // Every js peer that our node talked to has verified us (identify lists the kad protocol, ping answers).
        var contacted = _js.Where(j => _everConnected.ContainsKey(PeerId.Parse(j.PeerId))).ToList();
        Assert.That(contacted, Has.Count.GreaterThanOrEqualTo(JsPeerCount / 2));
        var us = OurHost.PeerId.ToString();
        foreach (var js in contacted)
            await PollAsync(async () => (await RoutingTableOfAsync(js, ct)).Contains(us), $"js {js.PeerId} never admitted us", ct);
    }

    [Test, CancelAfter(60_000)]
    public async Task Records_PutFromJs_GetFromUs_AndPutFromUs_GetFromJs(CancellationToken ct)
    {
        var jsKey = $"/test/js-{Guid.NewGuid():N}";
        var watch = Stopwatch.StartNew();
        var stored = await _js[3].SendAsync("dht.put", new { key = jsKey, value = Convert.ToBase64String(JsPeer.TestRecordValue(7, "from js")) }, null, ct);
        var jsPutMs = watch.Elapsed.TotalMilliseconds;
        Assert.That(stored.GetProperty("holders").EnumerateArray().Select(h => h.GetString()), Does.Contain(OurHost.PeerId.ToString()),
            "our node did not acknowledge js's PUT_VALUE");
        var local = await Node.Store.GetRecordAsync(Encoding.UTF8.GetBytes(jsKey), DateTimeOffset.UtcNow, ct);
        Assert.That(local is null ? null : Encoding.UTF8.GetString(local.Record.Value.Span), Is.EqualTo("7 from js"));

        watch.Restart();
        var got = await LastValueAsync(jsKey, ct);
        var ourGetMs = watch.Elapsed.TotalMilliseconds;
        Assert.That(got, Is.Not.Null, "our GET found nothing");
        Assert.That(Encoding.UTF8.GetString(got!.Record.Value.Span), Is.EqualTo("7 from js"));
        Assert.That(got.Holders.Select(h => h.ToString()).Intersect(_js.Select(j => j.PeerId)), Is.Not.Empty, "no js peer answered our GET");

        // Our PUT of a higher sequence on the same key wins at js too.
        watch.Restart();
        var acks = await Node.PutValueAsync(Encoding.UTF8.GetBytes(jsKey), JsPeer.TestRecordValue(9, "from us"), ct);
        var ourPutMs = watch.Elapsed.TotalMilliseconds;
        Assert.That(acks, Is.GreaterThanOrEqualTo(JsPeerCount / 2));
        watch.Restart();
        var jsGot = await _js[7].DhtGetAsync(jsKey, ct);
        var jsGetMs = watch.Elapsed.TotalMilliseconds;
        Assert.That(Encoding.UTF8.GetString(jsGot.Value), Is.EqualTo("9 from us"));

        var ourKey = $"/test/us-{Guid.NewGuid():N}";
        Assert.That(await Node.PutValueAsync(Encoding.UTF8.GetBytes(ourKey), JsPeer.TestRecordValue(1, "only ours"), ct), Is.GreaterThan(0));
        var fromJs = await _js[JsPeerCount - 2].DhtGetAsync(ourKey, ct);
        Assert.That(Encoding.UTF8.GetString(fromJs.Value), Is.EqualTo("1 only ours"));
        Assert.That(fromJs.Holders.Select(h => h.PeerId), Does.Contain(OurHost.PeerId.ToString()), "js's GET got no answer from us");
        await TestContext.Progress.WriteLineAsync($"[{kadProtocol}] js put {jsPutMs:0} ms → our get {ourGetMs:0} ms; "
            + $"our put {ourPutMs:0} ms ({acks} acks) → js get {jsGetMs:0} ms");
    }

    [Test, CancelAfter(60_000)]
    public async Task PublicKeyRecord_ServedByJs_PassesOurPkValidator(CancellationToken ct)
    {
        // js answers GET_VALUE /pk/<multihash> from its peer store; our built-in /pk/ validator must accept the answer.
        var target = PeerId.Parse(_js[5].PeerId);
        DhtValue? last = null;
        await foreach (var value in Node.GetValueAsync(PublicKeyValidator.KeyFor(target), cancellationToken: ct)) last = value;
        Assert.That(last, Is.Not.Null, "our GET of a js peer's /pk/ record found nothing");
        Assert.That(target.Matches(last!.Record.Value.Span), Is.True);
        Assert.That(last.Holders.Select(h => h.ToString()).Intersect(_js.Select(j => j.PeerId)), Is.Not.Empty);
    }

    [Test, CancelAfter(60_000)]
    public async Task Providers_OursFoundByJs_AndJsFoundByUs(CancellationToken ct)
    {
        var ourContent = $"kontinuum-ours-{Guid.NewGuid():N}";
        Assert.That(await Node.ProvideAsync(Sha256Multihash(ourContent), ct), Is.GreaterThan(0));
        var providers = await _js[2].ProvidersAsync(ourContent, ct);
        var us = providers.SingleOrDefault(p => p.PeerId == OurHost.PeerId.ToString());
        Assert.That(us, Is.Not.Null, "js found no provider record of ours");
        Assert.That(us!.Addrs, Does.Contain(OurHost.ListenAddresses[0].ToString()));

        var jsContent = $"kontinuum-js-{Guid.NewGuid():N}";
        var provider = _js[JsPeerCount - 3];
        await provider.ProvideAsync(jsContent, ct);
        var key = Sha256Multihash(jsContent);
        // ADD_PROVIDER has no answer: js's provide returns once sent, so our store may see it a moment later.
        var held = await Node.Store.GetProvidersAsync(key, DateTimeOffset.UtcNow, 20, ct);
        for (var attempt = 0; attempt < 100 && held.All(p => p.Provider.ToString() != provider.PeerId); attempt++)
        {
            await Task.Delay(100, ct);
            held = await Node.Store.GetProvidersAsync(key, DateTimeOffset.UtcNow, 20, ct);
        }
        Assert.That(held.Select(p => p.Provider.ToString()), Does.Contain(provider.PeerId), "our node did not store js's ADD_PROVIDER");
        var found = new List<KontinuumP2P.Dht.Rpc.KadPeer>();
        await foreach (var p in Node.FindProvidersAsync(key, cancellationToken: ct)) found.Add(p);
        var js = found.SingleOrDefault(p => p.PeerId.ToString() == provider.PeerId);
        Assert.That(js, Is.Not.Null, "our FindProvidersAsync did not return the js provider");
        Assert.That(js!.Addresses.Select(a => a.ToString()), Does.Contain(WithoutPeerId(provider.AddressFor("/ip4/"))));
    }

    [Test, CancelAfter(60_000)]
    public async Task InvalidRecords_FromJs_AreNotStoredOrReturned_AndOursAreRefusedLocally(CancellationToken ct)
    {
        var before = Rejections.Count("test-no-sequence");
        var key = $"/test/bad-{Guid.NewGuid():N}";
        // js stores its own PUT unvalidated, so the putter keeps serving the bad value to GETs.
        var stored = await _js[4].SendAsync("dht.put", new { key, value = Convert.ToBase64String("no sequence"u8.ToArray()) }, null, ct);
        Assert.That(stored.GetProperty("holders").EnumerateArray().Select(h => h.GetString()), Does.Not.Contain(OurHost.PeerId.ToString()));
        Assert.That(await Node.Store.GetRecordAsync(Encoding.UTF8.GetBytes(key), DateTimeOffset.UtcNow, ct), Is.Null);
        var afterPut = Rejections.Count("test-no-sequence");
        Assert.That(afterPut, Is.GreaterThan(before), "js's invalid PUT_VALUE never reached our validator");

        Assert.That(await LastValueAsync(key, ct), Is.Null, "our GET returned the invalid js value");
        Assert.That(Rejections.Count("test-no-sequence"), Is.GreaterThan(afterPut), "our GET never saw js's copy of the invalid value");
        Assert.That(await Node.Store.GetRecordAsync(Encoding.UTF8.GetBytes(key), DateTimeOffset.UtcNow, ct), Is.Null);

        var tooLarge = $"/test/big-{Guid.NewGuid():N}";
        var big = JsPeer.TestRecordValue(3, new string('x', TestNamespaceValidator.MaxValueSize));
        var bigStored = await _js[6].SendAsync("dht.put", new { key = tooLarge, value = Convert.ToBase64String(big) }, null, ct);
        Assert.That(bigStored.GetProperty("holders").EnumerateArray().Select(h => h.GetString()), Does.Not.Contain(OurHost.PeerId.ToString()));
        Assert.That(await Node.Store.GetRecordAsync(Encoding.UTF8.GetBytes(tooLarge), DateTimeOffset.UtcNow, ct), Is.Null);
        Assert.That(Rejections.Count("test-too-large"), Is.GreaterThan(0), "js's oversized PUT_VALUE never reached our validator");

        var ours = $"/test/ours-bad-{Guid.NewGuid():N}";
        await Assert.ThatAsync(() => Node.PutValueAsync(Encoding.UTF8.GetBytes(ours), "none"u8.ToArray(), ct), Throws.TypeOf<InvalidRecordException>());
        await Assert.ThatAsync(() => Node.PutValueAsync(Encoding.UTF8.GetBytes(ours), big, ct), Throws.TypeOf<InvalidRecordException>());
        Assert.That(await Node.Store.GetRecordAsync(Encoding.UTF8.GetBytes(ours), DateTimeOffset.UtcNow, ct), Is.Null);
        await Assert.ThatAsync(() => _js[8].DhtGetAsync(ours, ct), Throws.TypeOf<JsPeerException>().With.Message.Contains("no value"));
    }

    /// <summary>The best value our GET ends with, or null when it yields none.</summary>
    private async Task<DhtValue?> LastValueAsync(string key, CancellationToken ct)
    {
        DhtValue? last = null;
        await foreach (var value in Node.GetValueAsync(Encoding.UTF8.GetBytes(key), cancellationToken: ct)) last = value;
        return last;
    }

    private static async Task<IReadOnlyList<string>> RoutingTableOfAsync(JsPeer js, CancellationToken ct)
    {
        var reply = await js.SendAsync("dht.routingTable", null, null, ct);
        return [.. reply.GetProperty("peers").EnumerateArray().Select(p => p.GetString() ?? "")];
    }

    private static async Task PollAsync(Func<Task<bool>> condition, string failure, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < PollTimeout)
        {
            if (await condition()) return;
            await Task.Delay(PollInterval, ct);
        }
        Assert.Fail($"{failure} (after {PollTimeout.TotalSeconds:0} s)");
    }

    private static string WithoutPeerId(string address) => address[..address.LastIndexOf("/p2p/", StringComparison.Ordinal)];

    /// <summary>The sha2-256 multihash (<c>12 20 …</c>) of a text: the key js's CIDv1 (raw) of that text provides under.</summary>
    private static byte[] Sha256Multihash(string text)
    {
        var multihash = new byte[34];
        multihash[0] = 0x12;
        multihash[1] = 0x20;
        SHA256.HashData(Encoding.UTF8.GetBytes(text), multihash.AsSpan(2));
        return multihash;
    }

    /// <summary>A meter factory for our one node that counts its rejected records by reason.</summary>
    private sealed class RejectionCounter : IMeterFactory
    {
        private readonly List<Meter> _meters = [];
        private readonly ConcurrentDictionary<string, long> _byReason = new();
        private readonly MeterListener _listener = new();

        public RejectionCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == this && instrument.Name == RejectedInstrument) listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                    if (tag.Key == "reason") _byReason.AddOrUpdate(tag.Value?.ToString() ?? "", value, (_, old) => old + value);
            });
            _listener.Start();
        }

        public long Count(string reason) => _byReason.GetValueOrDefault(reason);

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, this);
            lock (_meters) _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            _listener.Dispose();
            lock (_meters) foreach (var meter in _meters) meter.Dispose();
        }
    }
}
