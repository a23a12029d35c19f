using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Discovery;
using KontinuumP2P.Net.Discovery.Bootstrap;
using KontinuumP2P.Net.Discovery.Dns;
using KontinuumP2P.Net.Discovery.Mdns;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Node.Composition;

/// <summary>
/// The discovery a node's options ask for: a bootstrap dialer (<see cref="KontinuumNodeOptions.BootstrapDialing"/>)
/// and mDNS (<see cref="KontinuumNodeOptions.EnableMdns"/>). Every peer found is dialed through the host's normal path,
/// so the certificate exchange and admission judge it like any other; identify then offers DHT servers to the DHT.
/// </summary>
internal sealed class DiscoveryService : INodeService
{
    private readonly KontinuumNode _node;
    private readonly IPeerHost _host;
    private BootstrapDialer? _bootstrapDialer;
    private MdnsService? _mdns;
    private DiscoveryDialer? _mdnsDialer;

    public DiscoveryService(KontinuumNode node, IPeerHost host)
    {
        _node = node;
        _host = host;
    }

    public string Name => "discovery";

    /// <exception cref="BootstrapConfigurationException">Bootstrap peers were given and none is usable.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">mDNS is on and UDP port 5353 cannot be used.</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var options = _node.Options;
        var network = _node.Network;
        var loggers = _node.Services.LoggerFactory;
        var entries = network.BootstrapPeers.Select((a, i) => new BootstrapEntry($"network '{network.Name}' bootstrap #{i + 1}", a.ToString()))
            .Concat(options.ExtraBootstrapPeers.Select((a, i) => new BootstrapEntry($"extra bootstrap peer #{i + 1}", a.ToString())))
            .ToList();
        if (options.BootstrapDialing is { } dialing && entries.Count > 0)
        {
            var resolver = new MultiaddrResolver(new DnsResolver(new DnsResolverOptions(), _host.TimeProvider, loggers), loggers);
            _bootstrapDialer = new BootstrapDialer(_host, BootstrapList.Parse(entries), resolver, dialing, loggers, _node.Services.MeterFactory);
            _bootstrapDialer.Start();
        }
        if (options.EnableMdns)
        {
            // Each Kontinuum network announces its own service name: another network on the LAN is never even dialed.
            _mdns = new MdnsService(_node.PeerId, () => _host.ListenAddresses, new MdnsOptions { NetworkFingerprint = network.GenesisFingerprint },
                timeProvider: _host.TimeProvider,
                loggerFactory: loggers, meterFactory: _node.Services.MeterFactory);
            _mdns.Start();
            _mdnsDialer = new DiscoveryDialer(_host, _mdns, loggerFactory: loggers, meterFactory: _node.Services.MeterFactory);
            _mdnsDialer.Start();
        }
        return Task.CompletedTask;
    }

    /// <summary>Stops discovery before the DHT and host it dials through.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_mdnsDialer is not null) await _mdnsDialer.DisposeAsync().ConfigureAwait(false);
        if (_mdns is not null) await _mdns.DisposeAsync().ConfigureAwait(false);
        if (_bootstrapDialer is not null) await _bootstrapDialer.DisposeAsync().ConfigureAwait(false);
    }
}
