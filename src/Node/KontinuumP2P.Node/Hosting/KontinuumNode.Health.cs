using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Node.Composition;

namespace KontinuumP2P.Node.Hosting;

/// <summary>Fleet health on a mailbox node: the health protocol's settings and where HQ is.</summary>
public sealed record NodeHealthOptions
{
    /// <summary>HQ's multiaddr with <c>/p2p/</c>; null sends no alerts (reports and checks still run).</summary>
    public Multiaddr? Hq { get; init; }

    /// <summary>Thresholds and timeouts of the health service.</summary>
    public HealthServiceOptions Service { get; init; } = new();
}

public sealed partial class KontinuumNode
{
    /// <summary>The health service (<c>/kontinuum/health/1.0.0</c>) running beside the mailbox server, once started.</summary>
    public HealthService? HealthService => RunningServices.OfType<HealthNodeService>().FirstOrDefault()?.Service;

    /// <summary>
    /// The health protocol composed into a mailbox node: counts reports of devices registered in this node's mailbox
    /// store, checks the mailboxes they report, and sends signed alerts to HQ when configured. Added after the mailbox
    /// service, so the store's file exists when it is opened read-only.
    /// </summary>
    internal sealed class HealthNodeService(KontinuumNode node, IPeerHost host, MailboxServerOptions mailbox) : INodeService
    {
        private StoreRegisteredDevices? _devices;

        public HealthService? Service { get; private set; }

        public string Name => "health";

        public Task StartAsync(CancellationToken cancellationToken)
        {
            var options = node.Options.Health ?? new NodeHealthOptions();
            var identity = node.Options.Identity ?? throw new InvalidOperationException("the health service needs the node's identity");
            var certificate = node.Options.Certificate ?? throw new InvalidOperationException("the health service needs the node's certificate");
            IHealthAlertSink? sink = null;
            if (options.Hq is { PeerId: { } hq } address)
                sink = new HqSink(host, hq, address, new HealthService.PeerAlertSink(host, hq, identity, options.Service.CheckTimeout));
            _devices = new StoreRegisteredDevices(mailbox.Store);
            Service = new HealthService(host, options.Service, _devices, identity, certificate, sink, receiver: null, node.Services.TimeProvider,
                node.Services.LoggerFactory);
            Service.Start();
            return Task.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            if (Service is { } service) await service.DisposeAsync().ConfigureAwait(false);
            _devices?.Dispose();
        }
    }

    // HQ's configured address is put back before every alert and drain report: the peer store may have evicted it since.
    private sealed class HqSink(IPeerHost host, PeerId hq, Multiaddr address, HealthService.PeerAlertSink inner) : IHealthAlertSink, IDrainReportSink
    {
        public Task SendAsync(HealthAlert alert, CancellationToken cancellationToken)
        {
            host.PeerStore.AddAddresses(hq, [address], TimeSpan.FromHours(1));
            return inner.SendAsync(alert, cancellationToken);
        }

        public Task SendAsync(DrainReport report, CancellationToken cancellationToken)
        {
            host.PeerStore.AddAddresses(hq, [address], TimeSpan.FromHours(1));
            return inner.SendAsync(report, cancellationToken);
        }
    }
}
