using System.Diagnostics.Metrics;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Node.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Node.Composition;

/// <summary>
/// The one way a Kontinuum node is put together, used by <see cref="KontinuumNode.StartAsync(KontinuumNodeOptions, CancellationToken)"/>,
/// dependency injection, the CLI and the simulator: transport (a libp2p host unless replaced), admission with the
/// certificate exchange, the DHT with the <c>/node/</c> and <c>/crl/</c> validators, the record and CRL routines, and
/// the services (discovery by default). A simulator replaces only the transport (<see cref="UseTransport"/>) and the
/// clock (<see cref="UseTimeProvider"/>).
/// </summary>
public sealed class KontinuumNodeBuilder
{
    private readonly KontinuumNodeOptions _options;
    private readonly List<Func<KontinuumNode, INodeService?>> _services = [];
    private Func<NodeTransportContext, INodeTransport> _transport = context => new HostNodeTransport(context);
    private TimeProvider _time = TimeProvider.System;
    private ILoggerFactory _loggers = NullLoggerFactory.Instance;
    private IMeterFactory? _meters;
    private TrustAnchors? _sharedAnchors;

    /// <summary>Starts a composition of <paramref name="options"/> with the default services.</summary>
    public KontinuumNodeBuilder(KontinuumNodeOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        AddDefaultServices();
    }

    /// <summary>Uses <paramref name="timeProvider"/> as the clock of every part.</summary>
    public KontinuumNodeBuilder UseTimeProvider(TimeProvider timeProvider)
    {
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        return this;
    }

    /// <summary>Logs every part through <paramref name="loggerFactory"/>.</summary>
    public KontinuumNodeBuilder UseLoggerFactory(ILoggerFactory loggerFactory)
    {
        _loggers = loggerFactory ?? throw new ArgumentNullException(nameof(loggerFactory));
        return this;
    }

    /// <summary>Creates every part's meters through <paramref name="meterFactory"/> (null: private meters).</summary>
    public KontinuumNodeBuilder UseMeterFactory(IMeterFactory? meterFactory)
    {
        _meters = meterFactory;
        return this;
    }

    /// <summary>Replaces the transport (a simulated network instead of a libp2p host).</summary>
    public KontinuumNodeBuilder UseTransport(Func<NodeTransportContext, INodeTransport> factory)
    {
        _transport = factory ?? throw new ArgumentNullException(nameof(factory));
        return this;
    }

    /// <summary>
    /// Judges certificates with <paramref name="anchors"/> (created over the same anchor set and clock) instead of a
    /// private instance: nodes in one process then share its cache of verified signatures. Verdicts are unchanged
    /// (thresholds, validity and each node's own CRL are checked on every call).
    /// </summary>
    public KontinuumNodeBuilder UseSharedTrustAnchors(TrustAnchors anchors)
    {
        _sharedAnchors = anchors ?? throw new ArgumentNullException(nameof(anchors));
        return this;
    }

    /// <summary>
    /// Adds a service, created when the node starts (its DHT exists then); a factory may return null to leave the
    /// service out (e.g. discovery on a simulated transport). Services start in the order added.
    /// </summary>
    public KontinuumNodeBuilder AddService(Func<KontinuumNode, INodeService?> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _services.Add(factory);
        return this;
    }

    /// <summary>Validates the options and creates the node (not started: call <see cref="KontinuumNode.StartAsync(CancellationToken)"/>).</summary>
    /// <exception cref="Configuration.NodeConfigException">A setting is invalid; the message names it.</exception>
    public KontinuumNode Build()
    {
        _options.Validate();
        var services = new NodeServices(_time, _loggers, _meters);
        var transport = _transport(new NodeTransportContext(_options, services));
        return new KontinuumNode(_options, services, transport, [.. _services], _sharedAnchors);
    }

    /// <summary>Builds and starts the node; disposes what was built when starting fails.</summary>
    /// <exception cref="Configuration.NodeConfigException">A setting is invalid; the message names it.</exception>
    public async Task<KontinuumNode> StartAsync(CancellationToken cancellationToken)
    {
        var node = Build();
        try
        {
            await node.StartAsync(cancellationToken).ConfigureAwait(false);
            return node;
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The services every node runs. Adding a service to the node (mailbox, archive, ...) is one line here, with a
    /// factory that returns null when the service does not apply (no host, option off).
    /// </summary>
    private void AddDefaultServices()
    {
        AddService(node => node.Host is { } host ? new DiscoveryService(node, host) : null);
        AddService(node => node.Host is { } host && node.Options.Mailbox is { } mailbox ? new KontinuumNode.MailboxNodeService(node, host, mailbox) : null);
        AddService(node => node.Host is { } host && node.Options.ArchiveHolder is { } holder ? new KontinuumNode.ArchiveHolderNodeService(node, host, holder) : null);
        AddService(node => node.Host is not null && node.Options.Archive is { } archive ? new KontinuumNode.ArchiveNodeService(node, archive) : null);
        AddService(node => node.Host is { } host && node.Options.Mailbox is { } mailbox ? new KontinuumNode.HealthNodeService(node, host, mailbox) : null);
        AddService(node => node.Host is { } host && node.Options.Mailbox is { } mailbox && node.Options.ServeContent ? new KontinuumNode.ContentNodeService(node, host, mailbox) : null);
        AddService(node => node.Host is { } host && node.Options.Mailbox is null && node.Options.ServeOwnContent ? new KontinuumNode.ContentSenderNodeService(host) : null);
    }
}
