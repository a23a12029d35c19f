using System.Text.Json.Nodes;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// HQ inside <c>kontinuum devnet</c>: an identity certified by the devnet's Tier 0 with the <c>hq</c> capability, its
/// registry in <c>&lt;devnet&gt;/hq</c>, one slot per mailbox node (<c>mbx-a</c>, <c>mbx-b</c>, … on the mailboxes'
/// providers), and its node composed by <see cref="KontinuumNodeBuilder"/> with <see cref="HqNodeService"/>, which
/// publishes the slot records and takes alerts. No spare pool here; `devnet --chaos` runs HQ with one (DevnetChaosHq).
/// </summary>
internal sealed class DevnetHq : IAsyncDisposable
{
    private readonly Ed25519Identity _key;
    private readonly HqService _hq;
    private KontinuumNode? _node;
    private int _published;

    private DevnetHq(Ed25519Identity key, HqService hq)
    {
        _key = key;
        _hq = hq;
    }

    public static async Task<DevnetHq> StartAsync(DevnetRunner devnet, CancellationToken cancellationToken)
    {
        var key = Ed25519Identity.Generate();
        var certificate = devnet.Authority.IssueCertificate(key, TimeSpan.FromDays(30), ["dht", "hq"], "devnet-hq");
        var hq = new HqService(Path.Combine(devnet.Directory, "hq"), key, certificate, new EscalationOptions(), TimeProvider.System);
        var run = new DevnetHq(key, hq);
        try
        {
            // Every node serving mailboxes gets a slot, on the provider its certificate names.
            var mailboxes = devnet.Nodes.Where(n => n.Options.Mailbox is not null && n.Options.Certificate is not null).Take(26).ToList();
            for (var i = 0; i < mailboxes.Count; i++)
            {
                var slot = $"mbx-{(char)('a' + i)}";
                var node = mailboxes[i];
                if (hq.Registry.GetSlot(slot) is null)
                {
                    hq.RegisterSlot("devnet", slot, node.PeerId, node.Options.Certificate!.Body.Provider, "local",
                        node.Options.Mailbox!.Store.Role == KontinuumP2P.Mailbox.Wire.MailboxRole.Replica ? MailboxRole.Replica : MailboxRole.Ephemeral, 100);
                }
            }
            var first = devnet.Nodes[0];
            run._node = await new KontinuumNodeBuilder(new KontinuumNodeOptions
            {
                Identity = key,
                Network = devnet.Authority.Network,
                Certificate = certificate,
                ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
                ExtraBootstrapPeers = [first.ListenAddresses[0].WithPeerId(first.PeerId)],
                DataDirectory = Path.Combine(devnet.Directory, "hq", "node"),
            }).AddService(node =>
            {
                var service = new HqNodeService(node, hq, provisioner: null, new HqNodeOptions(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1)));
                service.Changed += e =>
                {
                    if (e.Kind == "published") Interlocked.Increment(ref run._published);
                };
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

    public PeerId PeerId => _key.PeerId;

    /// <summary>One line per slot for the status table.</summary>
    public string Render()
    {
        var status = _hq.Status();
        var lines = new List<string> { $"  hq {PeerId}: {Volatile.Read(ref _published)} slot records published, {(status.Incidents.Count == 0 ? "no provider incidents" : "incidents: " + string.Join(", ", status.Incidents))}" };
        foreach (var m in status.Mailboxes) lines.Add($"     {m.Slot,-6}  {m.Provider,-10}  {m.State,-8}  {m.PeerId}");
        return string.Join('\n', lines);
    }

    /// <summary>The same as JSON.</summary>
    public JsonObject ToJson()
    {
        var status = _hq.Status();
        return new JsonObject
        {
            ["peerId"] = PeerId.ToString(),
            ["published"] = Volatile.Read(ref _published),
            ["incidents"] = new JsonArray([.. status.Incidents.Select(i => (JsonNode)i)]),
            ["slots"] = new JsonArray([.. status.Mailboxes.Select(m => (JsonNode)new JsonObject
            {
                ["slot"] = m.Slot,
                ["provider"] = m.Provider,
                ["state"] = m.State,
                ["peerId"] = m.PeerId,
            })]),
        };
    }

    public async ValueTask DisposeAsync()
    {
        if (_node is not null) await _node.DisposeAsync().ConfigureAwait(false);
        _hq.Dispose();
        _key.Dispose();
    }
}
