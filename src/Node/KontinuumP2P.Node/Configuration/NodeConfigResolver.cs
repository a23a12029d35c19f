using System.Net;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Dht;
using KontinuumP2P.Net.Discovery.Bootstrap;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Node.Networks;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Node.Configuration;

/// <summary>A checked configuration: node options with the key and certificate loaded, plus the run settings.</summary>
public sealed class ResolvedNodeConfig : IDisposable
{
    /// <summary>Options for <see cref="Composition.KontinuumNodeBuilder"/> (logging and metrics are the caller's to set).</summary>
    public required KontinuumNodeOptions Options { get; init; }

    /// <summary>Where <c>/metrics</c> and <c>/status</c> are served; null when <c>metrics.enabled = false</c>.</summary>
    public IPEndPoint? MetricsEndpoint { get; init; }

    /// <summary>Minimum console log level.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>Whether logs are JSON lines.</summary>
    public bool JsonLogs { get; init; }

    /// <summary>The configuration file.</summary>
    public required string ConfigPath { get; init; }

    /// <summary>Erases the node key from memory.</summary>
    public void Dispose() => Options.Identity?.Dispose();
}

/// <summary>
/// Turns a <see cref="NodeConfig"/> into <see cref="KontinuumNodeOptions"/>: resolves the network, parses multiaddrs,
/// durations and the metrics address, loads the key (decrypting it) and the certificate. Relative paths start at the
/// configuration file's folder. Every error is a <see cref="NodeConfigException"/> naming <c>section.key</c>.
/// </summary>
public static partial class NodeConfigResolver
{
    private static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxInterval = TimeSpan.FromDays(2);

    /// <summary>Checks <paramref name="config"/> (read from <paramref name="configPath"/>) and loads what it names.</summary>
    /// <exception cref="NodeConfigException">A value is unusable; the message names the key and the problem.</exception>
    public static ResolvedNodeConfig Resolve(NodeConfig config, string configPath)
    {
        ArgumentNullException.ThrowIfNull(config);
        var baseDirectory = Path.GetDirectoryName(Path.GetFullPath(configPath)) ?? Directory.GetCurrentDirectory();
        var network = ResolveNetwork(config.Network.Network, baseDirectory);
        var listen = config.Network.Listen.Select(text => ParseAddress("network.listen", text)).ToList();
        var bootstrap = ParseBootstrap(config.Network.ExtraBootstrapPeers);
        var mode = config.Dht.Mode switch
        {
            "server" => DhtMode.Server,
            "client" => DhtMode.Client,
            "auto" => (DhtMode?)null,
            var other => throw new NodeConfigException("dht.mode", $"dht.mode: '{other}' is not one of server, client, auto"),
        };
        var kad = config.Dht.KadProtocol;
        if (kad.Length > 0 && (!kad.StartsWith('/') || kad.Length > 100 || kad.Contains(' ')))
            throw new NodeConfigException("dht.kad_protocol", $"dht.kad_protocol: '{kad}' is not a protocol id like /kontinuum/kad/1.0.0");
        var crlInterval = ConfigDuration.Parse("crl.refresh_interval", config.Crl.RefreshInterval, MinInterval, MaxInterval);
        var republish = ConfigDuration.Parse("records.republish_interval", config.Records.RepublishInterval, MinInterval, MaxInterval);
        var metrics = MetricsEndpoint(config);
        var limits = ResolveLimits(config.Limits);
        var level = ParseLogLevel(config.Log.Level);
        var json = config.Log.Format switch
        {
            "simple" => false,
            "json" => true,
            var other => throw new NodeConfigException("log.format", $"log.format: '{other}' is not one of simple, json"),
        };
        if (config.Node.Tier is < 0 or > 2) throw new NodeConfigException("node.tier", $"node.tier: {config.Node.Tier} is not 0, 1 or 2");
        var dataDirectory = config.Node.DataDir.Length > 0
            ? Path.GetFullPath(config.Node.DataDir, baseDirectory)
            : Path.Combine(Path.GetDirectoryName(baseDirectory) ?? baseDirectory, "data");

        var identity = LoadKey(config.Identity, baseDirectory);
        try
        {
            var certificate = LoadCertificate(config.Identity, baseDirectory, identity);
            if (certificate is null && network.AdmissionEnforced && (mode == DhtMode.Server))
            {
                throw new NodeConfigException("identity.cert_file",
                    $"identity.cert_file: no certificate: {Path.GetFullPath(config.Identity.CertFile, baseDirectory)} is empty, and a DHT server on network " +
                    $"'{network.Name}' must present one (request it with `kontinuum cert request`), or set dht.mode = \"client\"");
            }
            var mailbox = ResolveMailbox(config.Mailbox, baseDirectory, dataDirectory);
            var content = ResolveContent(config.Content, mailbox is not null, mailbox?.Store.DatabasePath, baseDirectory);
            var options = new KontinuumNodeOptions
            {
                Identity = identity,
                Network = network,
                Certificate = certificate,
                ListenAddresses = listen,
                ExtraBootstrapPeers = bootstrap,
                DhtMode = mode,
                DataDirectory = dataDirectory,
                CrlRefreshInterval = crlInterval,
                NodeRecordRepublishInterval = republish,
                EnableMdns = config.Network.Mdns,
                BootstrapDialing = config.Network.BootstrapReconnect ? new BootstrapOptions() : null,
                ConfigureDht = kad.Length == 0 ? null : dht => dht with { ProtocolId = kad },
                Mailbox = mailbox,
                Content = content,
                ServeContent = config.Content.Enabled,
                Archive = ResolveArchive(config.Archive, baseDirectory, dataDirectory),
                ArchiveHolder = ResolveArchiveHolder(config.ArchiveHolder, baseDirectory, dataDirectory),
                Health = ResolveHealth(config.Health, config.Mailbox.Enabled),
                Limits = limits.Host,
                AdmissionLimits = new Admission.AdmissionLimits { MaxCrlStaleness = limits.MaxCrlStaleness },
            };
            options.Validate();
            return new ResolvedNodeConfig { Options = options, MetricsEndpoint = metrics, LogLevel = level, JsonLogs = json, ConfigPath = configPath };
        }
        catch
        {
            identity.Dispose();
            throw;
        }
    }

    private static NetworkDefinition ResolveNetwork(string network, string baseDirectory)
    {
        if (string.IsNullOrWhiteSpace(network)) throw new NodeConfigException("network.network", "network.network: empty; use mainnet, open or a genesis file path");
        var name = network is NetworkDefinition.MainnetName or NetworkDefinition.OpenName ? network : Path.GetFullPath(network, baseDirectory);
        try
        {
            return NetworkDefinition.Resolve(name);
        }
        catch (NetworkDefinitionException e)
        {
            throw new NodeConfigException("network.network", $"network.network: {e.Message.Replace("--network ", "", StringComparison.Ordinal)}", e);
        }
    }

    private static Multiaddr ParseAddress(string key, string text) =>
        Multiaddr.TryParse(text, out var address) && address is not null
            ? address
            : throw new NodeConfigException(key, $"{key}: '{text}' is not a valid multiaddr");

    private static List<Multiaddr> ParseBootstrap(IList<string> texts)
    {
        const string key = "network.extra_bootstrap_peers";
        BootstrapList list;
        try
        {
            list = BootstrapList.Parse(texts.Select((t, i) => new BootstrapEntry($"#{i + 1}", t)));
        }
        catch (BootstrapConfigurationException e)
        {
            throw new NodeConfigException(key, $"{key}: {e.Message}", e);
        }
        if (list.Problems.Count > 0) throw new NodeConfigException(key, $"{key}: {string.Join("; ", list.Problems)}");
        return [.. texts.Select(t => ParseAddress(key, t))];
    }

    /// <summary>The metrics and status endpoint of <paramref name="config"/>; null when <c>metrics.enabled = false</c>.</summary>
    /// <exception cref="NodeConfigException"><c>metrics.listen</c> is not HOST:PORT, or not loopback without permission.</exception>
    public static IPEndPoint? MetricsEndpoint(NodeConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Metrics.Enabled ? ParseMetricsEndpoint(config.Metrics) : null;
    }

    private static IPEndPoint ParseMetricsEndpoint(MetricsSection metrics)
    {
        const string key = "metrics.listen";
        var text = metrics.Listen.Trim();
        if (text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase)) text = "127.0.0.1" + text["localhost".Length..];
        if (!IPEndPoint.TryParse(text, out var endpoint) || endpoint.Port == 0 || !text.Contains(':', StringComparison.Ordinal))
            throw new NodeConfigException(key, $"{key}: '{metrics.Listen}' is not HOST:PORT (e.g. 127.0.0.1:9464)");
        if (!IPAddress.IsLoopback(endpoint.Address) && !metrics.AllowNonLoopback)
        {
            throw new NodeConfigException(key,
                $"{key}: {metrics.Listen} is not a loopback address; the endpoint has no authentication (set metrics.allow_non_loopback = true to accept)");
        }
        return endpoint;
    }

    private static LogLevel ParseLogLevel(string text) => text.ToUpperInvariant() switch
    {
        "TRACE" => LogLevel.Trace,
        "DEBUG" => LogLevel.Debug,
        "INFORMATION" or "INFO" => LogLevel.Information,
        "WARNING" or "WARN" => LogLevel.Warning,
        "ERROR" => LogLevel.Error,
        "CRITICAL" => LogLevel.Critical,
        _ => throw new NodeConfigException("log.level", $"log.level: '{text}' is not one of trace, debug, information, warning, error, critical"),
    };
}
