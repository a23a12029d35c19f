using System.Collections.Concurrent;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Hq;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// HQ for <c>devnet --chaos</c>: started before the devnet's nodes (so every mailbox node alerts it: <c>[health] hq</c>),
/// with a spare pool of one pre-certified mailbox identity on a fourth provider and <see cref="DevnetProvisioner"/>,
/// which starts that spare in this process. Thresholds are scaled down from the seed's minutes to seconds
/// (<see cref="Thresholds"/>, printed by the command).
/// </summary>
internal sealed class DevnetChaosHq : IAsyncDisposable
{
    /// <summary>What the run prints about its scaled thresholds.</summary>
    public const string Thresholds = "scaled thresholds (seed: >10 devices/2 min, checks 30 s, RED after 5 min): YELLOW above 1 reporting device in 30 s, " +
                                     "checks every 1 s, ORANGE after 3 failed checks, RED after 4 s confirmed by 2 mailboxes, HQ tick 1 s, device health rounds 1 s";

    public const string SpareProvider = "devnet-d";

    private readonly Ed25519Identity _key;
    private readonly HqService _hq;
    private readonly string? _ownedDirectory;
    private KontinuumNode? _node;
    private HqNodeService? _service;

    private DevnetChaosHq(Ed25519Identity key, HqService hq, DevnetAuthority authority, string? ownedDirectory)
    {
        _key = key;
        _hq = hq;
        _ownedDirectory = ownedDirectory;
        Authority = authority;
        Provisioner = new DevnetProvisioner(authority);
    }

    public DevnetAuthority Authority { get; }

    public DevnetProvisioner Provisioner { get; }

    public HqService Service => _hq;

    /// <summary>Every event HQ's node raised (levels, replacement, publications), in order.</summary>
    public ConcurrentQueue<HqNodeEvent> Events { get; } = new();

    /// <summary>HQ's address with <c>/p2p/</c>, for the mailboxes' <c>[health] hq</c> and the first node's bootstrap.</summary>
    public Multiaddr Address => _node!.ListenAddresses[0].WithPeerId(_key.PeerId);

    /// <summary>The mailbox nodes' health settings: HQ's address and the scaled thresholds.</summary>
    public NodeHealthOptions MailboxHealth => new()
    {
        Hq = Address,
        Service = new HealthServiceOptions
        {
            Monitor = new HealthMonitorOptions
            {
                YellowReportThreshold = 1,
                ReportWindow = TimeSpan.FromSeconds(30),
                CheckInterval = TimeSpan.FromSeconds(1),
                OrangeConsecutiveFailures = 3,
                RedAfter = TimeSpan.FromSeconds(4),
                AlertRefreshInterval = TimeSpan.FromSeconds(2),
            },
            CheckTimeout = TimeSpan.FromSeconds(3),
            RequestTimeout = TimeSpan.FromSeconds(3),
            Tick = TimeSpan.FromSeconds(1),
        },
    };

    /// <summary>The demo devices' health loops at the same scale.</summary>
    public static GroupHealthOptions DeviceHealth => new()
    {
        Interval = TimeSpan.FromSeconds(1),
        FirstReportInterval = TimeSpan.FromSeconds(1),
        MaxReportInterval = TimeSpan.FromSeconds(2),
        ReportTimeout = TimeSpan.FromSeconds(3),
        Region = "local",
    };

    /// <summary>Creates the devnet's Tier 0 and starts HQ's node (no bootstrap peer yet: the devnet's first node bootstraps from it).</summary>
    public static async Task<DevnetChaosHq> StartAsync(string? devnetDirectory, CancellationToken cancellationToken)
    {
        var authority = new DevnetAuthority("devnet", 1, 1, TimeProvider.System);
        var owned = devnetDirectory is null ? Path.Combine(Path.GetTempPath(), "kontinuum-devnet-hq-" + Guid.NewGuid().ToString("N")[..8]) : null;
        var directory = owned ?? Path.Combine(devnetDirectory!, "hq");
        Directory.CreateDirectory(directory);
        var key = Ed25519Identity.Generate();
        var certificate = authority.IssueCertificate(key, TimeSpan.FromDays(30), ["dht", "hq"], "devnet-hq");
        var hq = new HqService(directory, key, certificate, new EscalationOptions { RedConfirmations = 2, AlertTtl = TimeSpan.FromSeconds(30) }, TimeProvider.System);
        var run = new DevnetChaosHq(key, hq, authority, owned);
        try
        {
            run._node = await new KontinuumNodeBuilder(new KontinuumNodeOptions
            {
                Identity = key,
                Network = authority.Network,
                Certificate = certificate,
                ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
                DataDirectory = Path.Combine(directory, "node"),
            }).AddService(node =>
            {
                var service = new HqNodeService(node, hq, run.Provisioner, new HqNodeOptions(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)));
                service.Changed += e => run.Events.Enqueue(e);
                run._service = service;
                return service;
            }).StartAsync(cancellationToken).ConfigureAwait(false);
            return run;
        }
        catch
        {
            await run.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Once the devnet runs: one slot per mailbox node (<c>mbx-a</c>… on their providers), one spare certified now on
    /// <see cref="SpareProvider"/>, the provisioner attached, and every slot record published. Returns the spare's id.
    /// </summary>
    public async Task<string> RegisterAsync(DevnetRunner devnet, CancellationToken cancellationToken)
    {
        Provisioner.Attach(devnet);
        var mailboxes = devnet.Nodes.Where(n => n.Options.Mailbox is not null).ToList();
        for (var i = 0; i < mailboxes.Count; i++)
        {
            var node = mailboxes[i];
            _hq.RegisterSlot("devnet", DevnetSlot(i), node.PeerId, node.Options.Certificate!.Body.Provider, "local",
                i == 0 ? MailboxRole.Replica : MailboxRole.Ephemeral, 100);
        }
        var spare = Provisioner.AddSpare(SpareProvider, Path.Combine(devnet.Directory, "spare-0"));
        _hq.Registry.AddSpare("devnet", spare);
        await _service!.PublishAllAsync(cancellationToken).ConfigureAwait(false);
        return spare.Id;
    }

    public static string DevnetSlot(int index) => $"mbx-{(char)('a' + index)}";

    public PeerId PeerId => _key.PeerId;

    /// <summary>Stops HQ's node (and with it the replacement loop); idempotent.</summary>
    public async Task StopNodeAsync()
    {
        var node = Interlocked.Exchange(ref _node, null);
        if (node is not null) await node.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopNodeAsync().ConfigureAwait(false);
        _hq.Dispose();
        Provisioner.Dispose();
        Authority.Dispose();
        _key.Dispose();
        if (_ownedDirectory is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(_ownedDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort, like the devnet's own temporary folder.
            }
        }
    }
}
