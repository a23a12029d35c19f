using System.Collections.Concurrent;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Provisioning;
using KontinuumP2P.Hq.Registry;

namespace KontinuumP2P.Devnet;

/// <summary>
/// HQ's provisioner inside an in-process devnet: a pool of spare mailbox identities certified ahead of time by the
/// devnet's Tier 0 (with their <c>provider</c> and <c>geo_zone</c>), and starting one really starts a mailbox node in
/// this process through <see cref="DevnetRunner.StartMailboxNodeAsync"/> — the composition every devnet node uses.
/// HQ's node may start before the devnet does, so the runner is attached once it is up.
/// </summary>
public sealed class DevnetProvisioner : IProvisioner, IDisposable
{
    private readonly DevnetAuthority _authority;
    private readonly ConcurrentDictionary<string, (Ed25519Identity Key, Certificate Certificate)> _spares = new(StringComparer.Ordinal);
    private DevnetRunner? _runner;

    /// <summary>Creates a provisioner whose spares <paramref name="authority"/> certifies.</summary>
    public DevnetProvisioner(DevnetAuthority authority) => _authority = authority ?? throw new ArgumentNullException(nameof(authority));

    /// <summary>The devnet the spares join (set once it runs).</summary>
    public void Attach(DevnetRunner runner) => _runner = runner ?? throw new ArgumentNullException(nameof(runner));

    /// <summary>
    /// Generates a spare identity and has Tier 0 certify it now (<c>dht</c>, <c>mailbox</c>, on
    /// <paramref name="provider"/>), so starting it later needs no ceremony. Returns the entry for HQ's spare pool.
    /// </summary>
    public SpareEntry AddSpare(string provider, string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(provider);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var key = Ed25519Identity.Generate();
        var certificate = _authority.IssueCertificate(key, TimeSpan.FromDays(30), ["dht", "mailbox"], provider);
        _spares[key.PeerId.ToString()] = (key, certificate);
        return new SpareEntry(key.PeerId.ToString(), provider, _authority.GeoZone, directory, UsedBy: null);
    }

    /// <inheritdoc />
    public async Task<ProvisionedNode> StartAsync(SpareEntry spare, string slot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spare);
        var runner = _runner ?? throw new InvalidOperationException("the devnet is not up yet");
        if (!_spares.TryGetValue(spare.Id, out var entry)) throw new InvalidOperationException($"spare {spare.Id} is not in this devnet's pool");
        try
        {
            var node = await runner.StartMailboxNodeAsync(entry.Key, entry.Certificate, spare.Directory, cancellationToken).ConfigureAwait(false);
            return new ProvisionedNode(slot, spare.Id, [.. node.ListenAddresses.Select(a => a.ToString())], Environment.ProcessId);
        }
        catch (Exception e) when (e is not OperationCanceledException and not InvalidOperationException and not IOException)
        {
            // HQ retries with another spare on these three kinds; anything else the start threw is one of them to it.
            throw new InvalidOperationException($"starting spare {spare.Id}: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(string nodeId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var runner = _runner ?? throw new InvalidOperationException("the devnet is not up yet");
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        await runner.StopNodeAsync(PeerId.Parse(nodeId), bounded.Token).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var (key, _) in _spares.Values) key.Dispose();
        _spares.Clear();
    }
}
