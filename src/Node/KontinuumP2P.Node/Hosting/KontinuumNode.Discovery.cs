using KontinuumP2P.Net.Discovery;
using KontinuumP2P.Net.Discovery.Bootstrap;
using KontinuumP2P.Net.Discovery.Dns;
using KontinuumP2P.Net.Discovery.Mdns;

namespace KontinuumP2P.Node.Hosting;

public sealed partial class KontinuumNode
{
    private BootstrapDialer? _bootstrapDialer;
    private MdnsService? _mdns;
    private DiscoveryDialer? _mdnsDialer;

    /// <summary>
    /// Starts the discovery the options ask for. Every peer found is dialed through the host's normal path, so the
    /// certificate exchange and admission judge it like any other; identify then offers DHT servers to the DHT.
    /// </summary>
    /// <exception cref="BootstrapConfigurationException">Bootstrap peers were given and none is usable.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">mDNS is on and UDP port 5353 cannot be used.</exception>
    private void StartDiscovery()
    {
        var entries = Network.BootstrapPeers.Select((a, i) => new BootstrapEntry($"network '{Network.Name}' bootstrap #{i + 1}", a.ToString()))
            .Concat(_options.ExtraBootstrapPeers.Select((a, i) => new BootstrapEntry($"extra bootstrap peer #{i + 1}", a.ToString())))
            .ToList();
        if (_options.BootstrapDialing is { } dialing && entries.Count > 0)
        {
            var resolver = new MultiaddrResolver(new DnsResolver(new DnsResolverOptions(), Host.TimeProvider, _options.LoggerFactory), _options.LoggerFactory);
            _bootstrapDialer = new BootstrapDialer(Host, BootstrapList.Parse(entries), resolver, dialing, _options.LoggerFactory);
            _bootstrapDialer.Start();
        }
        if (_options.EnableMdns)
        {
            // Each Kontinuum network announces its own service name: another network on the LAN is never even dialed.
            _mdns = new MdnsService(PeerId, () => Host.ListenAddresses, new MdnsOptions { NetworkFingerprint = Network.GenesisFingerprint },
                timeProvider: Host.TimeProvider,
                loggerFactory: _options.LoggerFactory, meterFactory: _options.MeterFactory);
            _mdns.Start();
            _mdnsDialer = new DiscoveryDialer(Host, _mdns, loggerFactory: _options.LoggerFactory);
            _mdnsDialer.Start();
        }
    }

    /// <summary>Stops discovery before the DHT and host it dials through.</summary>
    private async ValueTask StopDiscoveryAsync()
    {
        if (_mdnsDialer is not null) await _mdnsDialer.DisposeAsync().ConfigureAwait(false);
        if (_mdns is not null) await _mdns.DisposeAsync().ConfigureAwait(false);
        if (_bootstrapDialer is not null) await _bootstrapDialer.DisposeAsync().ConfigureAwait(false);
    }
}
