using KontinuumP2P.Simulations.Network;
using KontinuumP2P.Simulations.Peers;

namespace KontinuumP2P.Simulations.Scenarios;

public sealed partial class SimulationRun
{
    private TimeSpan? _crlPropagation;
    private ulong _newestCrl;

    /// <summary>Replaces honest nodes at the configured rate: one leaves (its DHT stops, it becomes unreachable), a new one joins.</summary>
    private async Task ChurnLoopAsync(ChurnSection churn)
    {
        var random = new Random((int)Mix.Hash(_scenario.Seed, 0, 0, 0, 41));
        var spacing = TimeSpan.FromHours(1 / (churn.PerHour * _scenario.Nodes));
        var genesis = _peers.Take(_scenario.Join.BootstrapNodes).Select(p => p.Endpoint.LocalAddresses[0].WithPeerId(p.PeerId)).ToList();
        var replaced = 0;
        await Delay(spacing).ConfigureAwait(false);
        while (InPhase)
        {
            // The bootstrap nodes stay: they are the well-known entry points.
            var candidates = HonestOnline().Where(p => p.Index >= _scenario.Join.BootstrapNodes).ToList();
            if (candidates.Count > 0)
            {
                var leaving = candidates[random.Next(candidates.Count)];
                Track(leaving.DisposeAsync().AsTask());
                var joining = _factory.Create(_nextIndex++, PeerRole.Honest, genesis);
                _peers.Add(joining);
                Track(joining.StartAsync(Stopping));
                replaced++;
            }
            await Delay(spacing).ConfigureAwait(false);
        }
        _result.Metrics.Add(new("churn_replaced_nodes", replaced));
    }

    /// <summary>Splits the network in two groups at the start minute and heals it at the heal minute.</summary>
    private async Task PartitionAsync(PartitionSection partition)
    {
        await Delay(TimeSpan.FromMinutes(partition.StartMinute)).ConfigureAwait(false);
        var seed = _scenario.Seed;
        var fraction = partition.Fraction;
        // Bootstrap node 0 stays on the majority side so joins keep working.
        _network.SetPartition(index => index != 0 && Mix.Unit(seed, index, 0, 0, 11) < fraction ? 1 : 0);
        await Delay(TimeSpan.FromMinutes(partition.HealMinute - partition.StartMinute)).ConfigureAwait(false);
        _network.SetPartition(null);
    }

    /// <summary>
    /// Tier 0 revokes some certified nodes; bootstrap node 0 installs the CRL and puts it into the DHT; honest nodes
    /// pick it up with their periodic refresh. Measures the time until every honest node holds it.
    /// </summary>
    private async Task CrlAsync(CrlSection crl)
    {
        await Delay(TimeSpan.FromMinutes(crl.AtMinute)).ConfigureAwait(false);
        var random = new Random((int)Mix.Hash(_scenario.Seed, 0, 0, 0, 51));
        var candidates = HonestOnline().Where(p => p.Index >= _scenario.Join.BootstrapNodes).ToList();
        var revoked = candidates.OrderBy(_ => random.Next()).Take(crl.Revoke).ToList();
        foreach (var peer in revoked) _revokedLater.Add(peer.Index);
        var issued = _authority.IssueCrl(revoked.Select(p => p.PeerId), TimeSpan.FromDays(7));
        _newestCrl = issued.Body.CrlNumber;
        var published = _time.Elapsed;
        var stored = await _peers[0].PublishCrlAsync(issued, Stopping).ConfigureAwait(false);
        _result.Metrics.Add(new("crl_stores", stored));
        // Check every 10 s of virtual time until every honest node holds it or the phase ends.
        while (InPhase)
        {
            var honest = HonestOnline();
            if (honest.All(p => p.Crl.HighWaterMark >= _newestCrl))
            {
                _crlPropagation = _time.Elapsed - published;
                return;
            }
            await Delay(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
    }
}
