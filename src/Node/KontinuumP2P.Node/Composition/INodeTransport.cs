using System.Diagnostics.Metrics;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Storage;
using KontinuumP2P.Node.Admission;
using KontinuumP2P.Node.Hosting;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Node.Composition;

/// <summary>
/// How a node reaches its peers: the one part of the composition a simulator swaps (with the clock). The shipping
/// implementation is <see cref="HostNodeTransport"/> (a libp2p host); a simulator attaches the node to a simulated
/// network instead. Everything above it (admission, DHT, validators, records, CRL refresh, services) is the same.
/// </summary>
public interface INodeTransport : IAsyncDisposable
{
    /// <summary>Our peer id.</summary>
    PeerId LocalPeer { get; }

    /// <summary>The libp2p host, or null when the transport is simulated (no streams, no discovery).</summary>
    IPeerHost? Host { get; }

    /// <summary>Where we can be reached (without <c>/p2p/</c>).</summary>
    IReadOnlyList<Multiaddr> ListenAddresses { get; }

    /// <summary>Starts listening on <paramref name="addresses"/>.</summary>
    ValueTask ListenAsync(IReadOnlyList<Multiaddr> addresses, CancellationToken cancellationToken);

    /// <summary>Creates the DHT over this transport (the DHT owns what it creates for it).</summary>
    DhtNode CreateDht(DhtOptions options, IDhtStore? store, ILoggerFactory loggerFactory, IMeterFactory? meterFactory);

    /// <summary>Creates the channel that carries certificate offers for admission.</summary>
    ICertificateChannel CreateCertificateChannel(string protocolId, TimeSpan offerTimeout, ILoggerFactory loggerFactory);
}

/// <summary>What a transport factory is given: the node's settings and the services it runs with.</summary>
/// <param name="Options">The node's settings (identity, listen addresses, transports).</param>
/// <param name="Services">Clock, logging and metrics.</param>
public sealed record NodeTransportContext(KontinuumNodeOptions Options, NodeServices Services);

/// <summary>The services a node runs with; they come from the caller (DI or the builder), never from options.</summary>
/// <param name="TimeProvider">The clock.</param>
/// <param name="LoggerFactory">Logging.</param>
/// <param name="MeterFactory">Metrics; each component creates a private meter when null.</param>
public sealed record NodeServices(TimeProvider TimeProvider, ILoggerFactory LoggerFactory, IMeterFactory? MeterFactory);
