using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Simulations.Peers;

namespace KontinuumP2P.Simulations.Scenarios;

public sealed partial class SimulationRun
{
    private int _maxBadEntries;

    private async Task SampleLoopAsync()
    {
        var every = TimeSpan.FromMinutes(_scenario.Report.SampleMinutes);
        while (true)
        {
            await Delay(every).ConfigureAwait(false);
            if (!InPhase) return;
            SampleTimeline(PhaseMinute);
        }
    }

    /// <summary>Records the timeline point at <paramref name="minute"/> and checks the admission invariant.</summary>
    private void SampleTimeline(double minute)
    {
        var k = _factory.ResultCount;
        var honest = HonestOnline();
        // Eligible: online peers with a valid, unrevoked certificate (certified attackers included: they belong there).
        var eligible = _peers.Where(p => p.Online && p.Role is PeerRole.Honest or PeerRole.Poisoner or PeerRole.Withholder
                                         && !_revokedLater.Contains(p.Index))
            .Select(p => (p.PeerId, Id: KadId.FromPeer(p.PeerId))).ToArray();
        var roles = _peers.ToDictionary(p => p.PeerId, p => p.Role);
        var bad = 0;
        var healthy = 0;
        long tableSizes = 0;
        var index = new ClosestIndex(eligible);
        var closest = new List<PeerId>(k);
        foreach (var node in honest)
        {
            var table = node.Dht.GetRoutingTable();
            tableSizes += table.Count;
            var entries = new HashSet<PeerId>(table.Count);
            foreach (var entry in table) entries.Add(entry.PeerId);
            bad += entries.Count(IsBadFor(node, roles));
            index.Closest(KadId.FromPeer(node.PeerId), node.PeerId, k, closest);
            if (closest.TrueForAll(entries.Contains)) healthy++;
        }
        _maxBadEntries = Math.Max(_maxBadEntries, bad);
        var count = Math.Max(1, honest.Count);
        _result.Timeline.Add(new TimelineSample(_result.Variant, Math.Round(minute, 3), _peers.Count(p => p.Online), honest.Count,
            Math.Round((double)healthy / count, 4), Math.Round((double)tableSizes / count, 2), bad,
            _newestCrl == 0 ? 0 : honest.Count(p => p.Crl.HighWaterMark >= _newestCrl)));
        SampleMemory(Math.Round(minute, 3));
    }

    /// <summary>The heap and working set now (cheap: no collection is forced), to show growth over virtual time.</summary>
    private void SampleMemory(double minute)
    {
        long admission = 0, numbered = 0, addresses = 0;
        foreach (var peer in _peers)
        {
            var (connected, remembered) = peer.Admission.Held;
            admission += connected + remembered;
            numbered += peer.Endpoint.NumberedPeers;
            addresses += peer.Endpoint.KnownAddresses;
        }
        var last = GC.GetGCMemoryInfo();
        var full = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        _result.Memory.Add(new MemorySample(_result.Variant, minute, Math.Round(_wall.Elapsed.TotalSeconds, 1),
            Math.Round(Environment.CpuUsage.TotalTime.TotalSeconds, 1), last.HeapSizeBytes, full.Index == 0 ? 0 : full.PromotedBytes,
            last.FragmentedBytes, last.TotalCommittedBytes, Environment.WorkingSet, GC.CollectionCount(2), admission, numbered, addresses));
    }

    /// <summary>An entry an honest node must never keep: uncertified, or revoked by a CRL the node holds.</summary>
    private static Func<PeerId, bool> IsBadFor(SimulatedPeer node, Dictionary<PeerId, PeerRole> roles) =>
        peer => roles.GetValueOrDefault(peer) == PeerRole.Uncertified || node.Crl.IsRevoked(peer.Bytes);

    /// <summary>The deterministic summary figures.</summary>
    private void Summarise()
    {
        var lookups = _result.Lookups;
        lookups.Sort((a, b) => a.StartMinute != b.StartMinute ? a.StartMinute.CompareTo(b.StartMinute) : a.Origin.CompareTo(b.Origin));
        var succeeded = lookups.Where(l => l.Success).ToList();
        var hops = succeeded.Where(l => l.Hops >= 0).Select(l => (double)l.Hops).Order().ToList();
        var requests = succeeded.Where(l => l.Requests >= 0).Select(l => (double)l.Requests).ToList();
        var latency = succeeded.Select(l => l.LatencyMs).Order().ToList();
        var m = _result.Metrics;
        m.Add(new("nodes", _scenario.Nodes));
        m.Add(new("attackers", _peers.Count(p => p.Role.IsAttacker())));
        m.Add(new("disjoint_paths", _variant.DisjointPaths));
        m.Add(new("lookups", lookups.Count));
        m.Add(new("success_rate", lookups.Count == 0 ? double.NaN : Math.Round((double)succeeded.Count / lookups.Count, 5)));
        if (_scenario.Lookups.Confirm)
        {
            // Found and then reached by a dial: the figure a caller that confirms sees (#16).
            var reached = lookups.Count(l => l.Reachable == true);
            m.Add(new("success_rate_reachable", lookups.Count == 0 ? double.NaN : Math.Round((double)reached / lookups.Count, 5)));
        }
        m.Add(new("hops_median", Percentile(hops, 0.5)));
        m.Add(new("hops_p99", Percentile(hops, 0.99)));
        m.Add(new("rpcs_per_lookup_mean", requests.Count == 0 ? double.NaN : Math.Round(requests.Average(), 2)));
        m.Add(new("latency_ms_median", Percentile(latency, 0.5)));
        m.Add(new("latency_ms_p99", Percentile(latency, 0.99)));
        var last = _result.Timeline[^1];
        m.Add(new("routing_health_final", last.RoutingHealth));
        m.Add(new("routing_table_mean_size", last.MeanTableSize));
        m.Add(new("bad_entries_max", _maxBadEntries));
        m.Add(new("bad_entries_final", last.BadEntries));
        m.Add(new("revoked_in_honest_tables_final", RevokedInHonestTables()));
        if (_scenario.Crl is not null)
        {
            m.Add(new("crl_propagation_seconds", _crlPropagation is { } p ? Math.Round(p.TotalSeconds, 1) : double.NaN));
            m.Add(new("crl_holders_final", last.CrlHolders));
        }
        m.Add(new("messages_sent", _network.MessagesSent));
        m.Add(new("messages_dropped", _network.MessagesDropped));
        m.Add(new("bytes_sent", _network.BytesSent));
    }

    /// <summary>Entries in honest tables of ids revoked by the newest CRL Tier 0 issued (whether or not the node has it).</summary>
    private int RevokedInHonestTables()
    {
        var revoked = _authority.Revoked;
        return HonestOnline().Sum(p => p.Dht.GetRoutingTable().Count(e => revoked.Contains(e.PeerId)));
    }

    private static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
}
