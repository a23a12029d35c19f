using System.Diagnostics.Metrics;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Storage;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Net.Transports;
using KontinuumP2P.Node.Admission;
using KontinuumP2P.Node.Hosting;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Node.Composition;

/// <summary>The shipping transport: a libp2p <see cref="PeerHost"/> (TCP unless other transports are given).</summary>
public sealed class HostNodeTransport : INodeTransport
{
    private readonly PeerHost _host;

    /// <summary>Creates the host of a node.</summary>
    public HostNodeTransport(NodeTransportContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var options = context.Options;
        _host = CreateHost(options.Identity ?? throw new ArgumentException("the options have no identity", nameof(context)),
            options.Transports, options.ListenAddresses, context.Services, options.Limits);
    }

    /// <inheritdoc />
    public PeerId LocalPeer => _host.PeerId;

    /// <inheritdoc />
    public IPeerHost Host => _host;

    /// <inheritdoc />
    public IReadOnlyList<Multiaddr> ListenAddresses => _host.ListenAddresses;

    /// <summary>
    /// Creates a plain libp2p host with the given services (the only place hosts of the node and the CLI are made, so
    /// each has logging and metrics).
    /// </summary>
    /// <param name="identity">Its identity (not owned).</param>
    /// <param name="transports">Transports; TCP when empty.</param>
    /// <param name="listenAddresses">Addresses for <see cref="PeerHost.StartAsync"/>.</param>
    /// <param name="services">Clock, logging, metrics.</param>
    public static PeerHost CreateHost(Ed25519Identity identity, IEnumerable<ITransport> transports, IEnumerable<Multiaddr> listenAddresses, NodeServices services) =>
        CreateHost(identity, transports, listenAddresses, services, null);

    /// <summary>Creates a plain libp2p host with the given services and bounds.</summary>
    /// <param name="identity">Its identity (not owned).</param>
    /// <param name="transports">Transports; TCP when empty.</param>
    /// <param name="listenAddresses">Addresses for <see cref="PeerHost.StartAsync"/>.</param>
    /// <param name="services">Clock, logging, metrics.</param>
    /// <param name="limits">Connection budgets, peer store pools and resource limits; null (or a null field) keeps the host's default.</param>
    public static PeerHost CreateHost(Ed25519Identity identity, IEnumerable<ITransport> transports, IEnumerable<Multiaddr> listenAddresses, NodeServices services,
        NodeLimits? limits)
    {
        ArgumentNullException.ThrowIfNull(services);
        var list = transports.ToList();
        var defaults = new PeerHostOptions { Identity = identity };
        return new PeerHost(new PeerHostOptions
        {
            Identity = identity,
            Transports = list.Count > 0 ? list : [new TcpTransport(loggerFactory: services.LoggerFactory)],
            ListenAddresses = [.. listenAddresses],
            TimeProvider = services.TimeProvider,
            LoggerFactory = services.LoggerFactory,
            MeterFactory = services.MeterFactory,
            MaxConnections = limits?.MaxConnections ?? defaults.MaxConnections,
            MaxInboundConnections = limits?.MaxInboundConnections ?? defaults.MaxInboundConnections,
            MaxOutboundConnections = limits?.MaxOutboundConnections ?? defaults.MaxOutboundConnections,
            OutboundReserve = limits?.OutboundReserve ?? defaults.OutboundReserve,
            MaxPendingInboundHandshakes = limits?.MaxPendingInboundHandshakes ?? defaults.MaxPendingInboundHandshakes,
            MaxPendingHandshakesPerSubnet = limits?.MaxPendingHandshakesPerSubnet ?? defaults.MaxPendingHandshakesPerSubnet,
            MaxConnectionsPerIp = limits?.MaxConnectionsPerIp ?? defaults.MaxConnectionsPerIp,
            PeerStoreCapacity = limits?.PeerStoreCapacity ?? defaults.PeerStoreCapacity,
            PeerStoreSecondHandCapacity = limits?.PeerStoreSecondHandCapacity ?? defaults.PeerStoreSecondHandCapacity,
            SecondHandAddressTtl = limits?.SecondHandAddressTtl ?? defaults.SecondHandAddressTtl,
            ResourceLimits = limits?.Resources,
            YamuxOptions = limits?.StreamCloseTimeout is { } closeTimeout
                ? new YamuxOptions { StreamCloseTimeout = closeTimeout, TimeProvider = services.TimeProvider }
                : null,
        });
    }

    /// <inheritdoc />
    public ValueTask ListenAsync(IReadOnlyList<Multiaddr> addresses, CancellationToken cancellationToken) =>
        addresses.Count == 0 ? ValueTask.CompletedTask : _host.ListenAsync(addresses, cancellationToken);

    /// <inheritdoc />
    public DhtNode CreateDht(DhtOptions options, IDhtStore? store, ILoggerFactory loggerFactory, IMeterFactory? meterFactory) =>
        new(_host, options, store, loggerFactory, meterFactory);

    /// <inheritdoc />
    public ICertificateChannel CreateCertificateChannel(string protocolId, TimeSpan offerTimeout, ILoggerFactory loggerFactory) =>
        new HostCertificateChannel(_host, protocolId, offerTimeout, loggerFactory.CreateLogger<HostCertificateChannel>());

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
