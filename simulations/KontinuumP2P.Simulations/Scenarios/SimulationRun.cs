using System.Diagnostics;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Node.Records;
using KontinuumP2P.Simulations.Network;
using KontinuumP2P.Simulations.Peers;
using KontinuumP2P.Simulations.Time;

namespace KontinuumP2P.Simulations.Scenarios;

/// <summary>
/// One run of one scenario variant: builds the network, joins the nodes, runs the measured phase (lookups plus
/// churn, partition and CRL steps) and samples the timeline, all as one script inside the <see cref="SimulationDriver"/>.
/// </summary>
public sealed partial class SimulationRun
{
    private readonly ScenarioFile _scenario;
    private readonly ScenarioVariant _variant;
    private readonly VirtualTimeProvider _time = new();
    private readonly SimulatedNetwork _network;
    private readonly SimulatedAuthority _authority;
    private readonly PeerFactory _factory;
    private readonly List<SimulatedPeer> _peers = [];
    private readonly HashSet<int> _revokedLater = [];
    private readonly List<Task> _operations = [];
    private readonly RunResult _result;
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _wall = new();
    private TimeSpan _phaseStart;
    private int _nextIndex;
    private long _lookupErrors;

    /// <summary>Prepares the run (no node exists yet).</summary>
    public SimulationRun(ScenarioFile scenario, ScenarioVariant variant)
    {
        _scenario = scenario ?? throw new ArgumentNullException(nameof(scenario));
        _variant = variant ?? throw new ArgumentNullException(nameof(variant));
        _result = new RunResult(variant.Label(scenario));
        var n = scenario.Network;
        _network = new SimulatedNetwork(_time, new LinkModel
        {
            MinLatency = TimeSpan.FromMilliseconds(n.MinLatencyMs),
            MaxLatency = TimeSpan.FromMilliseconds(n.MaxLatencyMs),
            Jitter = TimeSpan.FromMilliseconds(n.JitterMs),
            Loss = n.Loss,
            BandwidthBitsPerSecond = (long)(n.BandwidthMbps * 1_000_000),
            Seed = scenario.Seed,
        })
        {
            Codec = n.Codec,
        };
        _authority = new SimulatedAuthority(scenario.Seed, scenario.Authority.Anchors, scenario.Authority.Threshold, _time);
        var d = scenario.Dht;
        _factory = new PeerFactory(_network, _authority, new PeerSettings
        {
            Lookup = new LookupOptions
            {
                Parallelism = d.Alpha,
                Beta = d.Beta,
                DisjointPaths = variant.DisjointPaths,
                RequestTimeout = TimeSpan.FromSeconds(d.RequestTimeoutSeconds),
                QueryTimeout = TimeSpan.FromSeconds(d.QueryTimeoutSeconds),
            },
            RefreshInterval = TimeSpan.FromMinutes(d.RefreshMinutes),
            CrlRefreshInterval = scenario.Crl is { } crl ? TimeSpan.FromMinutes(crl.RefreshMinutes) : TimeSpan.Zero,
        }, scenario.Seed);
    }

    /// <summary>Called on the driver thread with the share of virtual time done (0..1); keep it cheap.</summary>
    public Action<double>? Progress { get; init; }

    /// <summary>Virtual time the whole run plans for (join, settle, measured phase).</summary>
    public TimeSpan PlannedDuration => JoinDuration + TimeSpan.FromMinutes(_scenario.Join.SettleMinutes) + MeasuredDuration + PublishDuration;

    private TimeSpan JoinDuration => TimeSpan.FromMilliseconds(_scenario.Join.IntervalMs * _scenario.Nodes);

    private TimeSpan MeasuredDuration => TimeSpan.FromMinutes(_scenario.Lookups.Minutes);

    private TimeSpan PublishDuration => _scenario.Lookups.Kind == "get_record" ? TimeSpan.FromMinutes(5) : TimeSpan.Zero;

    private CancellationToken Stopping => _stop.Token;

    /// <summary>Runs the scenario to the end and returns what it measured.</summary>
    /// <exception cref="SimulationStalledException">The run could not finish (no events, limits, a busy pool).</exception>
    public async Task<RunResult> RunAsync(CancellationToken cancellationToken)
    {
        var wall = _wall;
        wall.Start();
        var driver = new SimulationDriver(_time);
        var planned = PlannedDuration;
        var lastReported = -1.0;
        driver.EventRan += elapsed =>
        {
            var share = Math.Min(1, elapsed / planned);
            if (share - lastReported < 0.002) return;
            lastReported = share;
            Progress?.Invoke(share);
        };
        // Generous bounds: a run that needs more is broken, not slow.
        var limit = planned + TimeSpan.FromHours(2);
        await driver.RunAsync(() => ScriptAsync(wall), limit, maxEvents: 4_000_000_000, cancellationToken).ConfigureAwait(false);
        _result.Performance.Add(new("wall_seconds", Math.Round(wall.Elapsed.TotalSeconds, 1)));
        _result.Performance.Add(new("cpu_seconds", Math.Round(Environment.CpuUsage.TotalTime.TotalSeconds, 1)));
        using (var process = System.Diagnostics.Process.GetCurrentProcess())
            _result.Performance.Add(new("peak_working_set_bytes", process.PeakWorkingSet64));
        _result.Performance.Add(new("events", driver.EventsRun));
        // The collector's share of the run (whole process, all runs so far): the first thing to check when CPU per event grows.
        _result.Performance.Add(new("gc_pause_seconds", Math.Round(GC.GetTotalPauseDuration().TotalSeconds, 1)));
        _result.Performance.Add(new("gc_gen2_collections", GC.CollectionCount(2)));
        _result.Performance.Add(new("gc_gen1_collections", GC.CollectionCount(1)));
        _result.Performance.Add(new("gc_gen0_collections", GC.CollectionCount(0)));
        _result.Performance.Add(new("quiescence_wait_seconds", Math.Round(driver.QuiescenceWaitTime.TotalSeconds, 1)));
        _result.Performance.Add(new("ran_on_single_pool_worker", driver.RanOnPoolWorker ? 1 : 0));
        _authority.Dispose();
        _stop.Dispose();
        return _result;
    }

    private async Task ScriptAsync(Stopwatch wall)
    {
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var roles = AssignRoles();
        var genesis = new List<Multiaddr>();
        Certificate? lastHonestCertificate = null;
        var interval = TimeSpan.FromMilliseconds(_scenario.Join.IntervalMs);
        for (var i = 0; i < _scenario.Nodes; i++)
        {
            var role = roles[i];
            // Bootstrap nodes join through the ones before them; everyone else through all of them.
            var peer = _factory.Create(i, role, [.. genesis], role == PeerRole.Uncertified && i % 2 == 1 ? lastHonestCertificate : null);
            if (role == PeerRole.Honest) lastHonestCertificate = peer.OwnCertificate;
            _peers.Add(peer);
            if (i < _scenario.Join.BootstrapNodes) genesis.Add(peer.Endpoint.LocalAddresses[0].WithPeerId(peer.PeerId));
            Track(peer.StartAsync(Stopping));
            // Join samples sit at negative minutes: time left until the measured phase starts.
            if (i % 50 == 0) SampleTimeline((_time.Elapsed - (JoinDuration + TimeSpan.FromMinutes(_scenario.Join.SettleMinutes) + PublishDuration)).TotalMinutes);
            await Delay(interval).ConfigureAwait(false);
        }
        _nextIndex = _scenario.Nodes;
        await Delay(TimeSpan.FromMinutes(_scenario.Join.SettleMinutes)).ConfigureAwait(false);
        var memory = GC.GetTotalMemory(forceFullCollection: true);
        _result.Performance.Add(new("memory_per_peer_bytes", Math.Round((double)(memory - baseline) / _peers.Count)));
        if (_scenario.Lookups.Kind == "get_record") await PublishRecordsAsync().ConfigureAwait(false);
        _phaseStart = _time.Elapsed;
        var phaseWall = wall.Elapsed;
        // CPU time as well as wall time: on a shared machine the wall clock mostly measures the other processes.
        var phaseCpu = Environment.CpuUsage.TotalTime;
        SampleTimeline(0);
        var loops = new List<Task> { LookupLoopAsync(), SampleLoopAsync() };
        if (_scenario.Churn is { PerHour: > 0 } churn) loops.Add(ChurnLoopAsync(churn));
        if (_scenario.Partition is { } partition) loops.Add(PartitionAsync(partition));
        if (_scenario.Crl is { } crl) loops.Add(CrlAsync(crl));
        await Task.WhenAll(loops).ConfigureAwait(false);
        await DrainOperationsAsync().ConfigureAwait(false);
        var phaseHours = (_time.Elapsed - _phaseStart).TotalHours;
        _result.Performance.Add(new("wall_seconds_per_simulated_hour", Math.Round((wall.Elapsed - phaseWall).TotalSeconds / phaseHours, 1)));
        _result.Performance.Add(new("cpu_seconds_per_simulated_hour", Math.Round((Environment.CpuUsage.TotalTime - phaseCpu).TotalSeconds / phaseHours, 1)));
        SampleTimeline((_time.Elapsed - _phaseStart).TotalMinutes);
        Summarise();
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var peer in _peers) await peer.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Attackers are spread over the join order (never among the bootstrap nodes) by a seeded shuffle.</summary>
    private PeerRole[] AssignRoles()
    {
        var roles = new PeerRole[_scenario.Nodes];
        if (_scenario.Adversary is not { } adversary) return roles;
        var role = adversary.Role switch
        {
            "uncertified" => PeerRole.Uncertified,
            "revoked" => PeerRole.Revoked,
            "withholder" => PeerRole.Withholder,
            _ => PeerRole.Poisoner,
        };
        var candidates = Enumerable.Range(_scenario.Join.BootstrapNodes, _scenario.Nodes - _scenario.Join.BootstrapNodes).ToArray();
        new Random((int)Mix.Hash(_scenario.Seed, 0, 0, 0, 21)).Shuffle(candidates);
        var count = (int)Math.Round(_variant.AttackerFraction * _scenario.Nodes);
        foreach (var index in candidates.Take(count)) roles[index] = role;
        if (role == PeerRole.Revoked)
        {
            // Their certificates are revoked by the CRL every node starts with.
            var revoked = candidates.Take(count).Select(i => SimulatedAuthority.NodeIdentity(_scenario.Seed, i)).ToList();
            _factory.InitialCrl = _authority.IssueCrl(revoked.Select(k => k.PeerId), TimeSpan.FromDays(7));
            foreach (var key in revoked) key.Dispose();
        }
        return roles;
    }

    private async Task PublishRecordsAsync()
    {
        var honest = _peers.Where(p => p.Role == PeerRole.Honest && p.Online).ToList();
        var spacing = PublishDuration / Math.Max(1, honest.Count);
        foreach (var peer in honest)
        {
            Track(peer.PublishRecordAsync(Stopping));
            await Delay(spacing).ConfigureAwait(false);
        }
        await DrainOperationsAsync().ConfigureAwait(false);
    }

    private Task Delay(TimeSpan delay) => delay <= TimeSpan.Zero ? Task.CompletedTask : Task.Delay(delay, _time, Stopping);

    private double PhaseMinute => (_time.Elapsed - _phaseStart).TotalMinutes;

    private bool InPhase => _time.Elapsed - _phaseStart < MeasuredDuration;

    /// <summary>Remembers an operation so the run waits for it; failures of node operations are counted, not thrown.</summary>
    private void Track(Task operation)
    {
        lock (_operations) _operations.Add(operation);
    }

    private async Task DrainOperationsAsync()
    {
        while (true)
        {
            Task[] pending;
            lock (_operations)
            {
                pending = [.. _operations];
                _operations.Clear();
            }
            if (pending.Length == 0) return;
            try
            {
                await Task.WhenAll(pending).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException or ObjectDisposedException)
            {
                // Operations of nodes that left mid-way end this way; lookups record their own outcome.
                Interlocked.Increment(ref _lookupErrors);
            }
        }
    }

    private List<SimulatedPeer> HonestOnline() =>
        [.. _peers.Where(p => p.Online && p.Role == PeerRole.Honest && !_revokedLater.Contains(p.Index))];

    private async Task LookupLoopAsync()
    {
        var random = new Random((int)Mix.Hash(_scenario.Seed, 0, 0, 0, 31));
        var spacing = TimeSpan.FromMinutes(1 / _scenario.Lookups.PerMinute);
        var total = (long)(_scenario.Lookups.PerMinute * _scenario.Lookups.Minutes);
        for (var i = 0L; i < total && InPhase; i++)
        {
            var honest = HonestOnline();
            if (honest.Count >= 2)
            {
                var origin = honest[random.Next(honest.Count)];
                var target = honest[random.Next(honest.Count - 1)];
                if (target == origin) target = honest[^1];
                Track(LookupAsync(origin, target));
            }
            await Delay(spacing).ConfigureAwait(false);
        }
    }

    private async Task LookupAsync(SimulatedPeer origin, SimulatedPeer target)
    {
        var startMinute = PhaseMinute;
        var started = _time.Elapsed;
        bool success;
        bool? reachable = null;
        int hops = -1, requests = -1, failures = -1;
        try
        {
            if (_scenario.Lookups.Kind == "find_peer")
            {
                var found = await origin.Dht.FindPeerAsync(target.PeerId, _scenario.Lookups.Confirm, Stopping).ConfigureAwait(false);
                success = found is not null;
                if (_scenario.Lookups.Confirm) reachable = found?.Reachable == true;
                if (found is not null) (hops, requests, failures) = (found.Statistics.Hops, found.Statistics.Requests, found.Statistics.Failures);
            }
            else
            {
                success = false;
                await foreach (var value in origin.Dht.GetValueAsync(RecordKeys.ForNode(target.PeerId), cancellationToken: Stopping).ConfigureAwait(false))
                    success |= NodeRecord.Decode(value.Record.Value.Span).PeerId == target.PeerId;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or IOException)
        {
            success = false;
        }
        // A lookup whose origin left meanwhile says nothing about the network.
        if (!origin.Online) return;
        lock (_result.Lookups)
        {
            _result.Lookups.Add(new LookupSample(_result.Variant, Math.Round(startMinute, 4), origin.Index, target.Index, success, hops, requests, failures,
                Math.Round((_time.Elapsed - started).TotalMilliseconds, 3), reachable));
        }
    }
}
