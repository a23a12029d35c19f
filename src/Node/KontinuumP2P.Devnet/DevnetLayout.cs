using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Certs.NodeIdentity;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Devnet;

/// <summary>One node folder written by <see cref="DevnetLayout.Write"/>.</summary>
/// <param name="Index">Position in the devnet (node 0 is everyone's bootstrap peer).</param>
/// <param name="PeerId">Its peer id.</param>
/// <param name="Directory">Its folder (<c>keys/</c>, <c>config/</c>, later <c>data/</c>).</param>
/// <param name="ConfigPath">Its <c>node.toml</c>.</param>
/// <param name="ListenAddress">Its listen multiaddr with <c>/p2p/</c>.</param>
/// <param name="MetricsAddress">Its metrics and status endpoint, <c>host:port</c>.</param>
public sealed record DevnetNodeFiles(int Index, string PeerId, string Directory, string ConfigPath, string ListenAddress, string MetricsAddress);

/// <summary>What <see cref="DevnetLayout.Write"/> produced.</summary>
/// <param name="Genesis">The genesis file.</param>
/// <param name="AnchorsFile">The anchors file (for <c>crl assemble --anchors</c>, <c>cert verify --anchors</c>).</param>
/// <param name="AnchorKeyFile">The Tier 0 key (plain, mode 0600) for <c>cert issue --key</c> and <c>crl sign --key</c>.</param>
/// <param name="Nodes">The node folders.</param>
/// <param name="FirstCrlFile">An empty CRL number 1 signed by the anchor, for <c>crl publish</c> once the nodes run.</param>
public sealed record DevnetFiles(string Genesis, string AnchorsFile, string AnchorKeyFile, IReadOnlyList<DevnetNodeFiles> Nodes, string FirstCrlFile);

/// <summary>
/// Lays out a devnet for separate <c>kontinuum node run</c> processes: a genesis with one fresh anchor (1-of-1), the
/// anchor's key and anchors file in <c>authority/</c>, and per node a plain key (mode 0600), a certificate signed by the
/// anchor and a <c>node.toml</c> with fixed loopback ports (node i listens on base + 2i, serves metrics on base + 2i + 1)
/// and node 0 as bootstrap peer. For development and tests only: the anchor key sits unencrypted on disk.
/// </summary>
public static class DevnetLayout
{
    /// <summary>Most nodes one layout holds.</summary>
    public const int MaxNodes = 64;

    /// <summary>Writes the layout into <paramref name="directory"/>, which must not hold a genesis yet.</summary>
    /// <exception cref="ArgumentException">Node count or base port out of range.</exception>
    /// <exception cref="IOException">The folder already holds a devnet.</exception>
    public static DevnetFiles Write(string directory, int nodes, int basePort, TimeSpan certificateValidity, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (nodes is < 1 or > MaxNodes) throw new ArgumentException($"--nodes: {nodes} is not between 1 and {MaxNodes}");
        if (basePort < 1024 || basePort + 2 * nodes > 65535) throw new ArgumentException($"--base-port: {basePort} leaves no room for {nodes} nodes (two ports each) below 65536");
        Directory.CreateDirectory(directory);
        var genesisPath = Path.GetFullPath(Path.Combine(directory, "genesis.json"));
        if (File.Exists(genesisPath)) throw new IOException($"{genesisPath} already exists; refusing to overwrite a devnet");

        var authority = Path.Combine(directory, "authority");
        Directory.CreateDirectory(authority);
        var anchorKey = Ed25519Identity.Generate();
        var anchorKeyPath = Path.GetFullPath(Path.Combine(authority, "anchor-1.key"));
        using var issuer = new DevnetAuthority("devnet", [anchorKey], threshold: 1, time); // owns the key from here on
        WriteKey(anchorKeyPath, anchorKey, KeyFileKind.Tier0);
        var anchorsPath = Path.GetFullPath(Path.Combine(authority, "anchors.json"));
        File.WriteAllText(anchorsPath, AnchorSetJson.Write(issuer.Network.Anchors!));
        File.WriteAllText(genesisPath, GenesisFile.Write(issuer.Network));

        var written = new List<DevnetNodeFiles>();
        string? bootstrap = null;
        for (var i = 0; i < nodes; i++)
        {
            using var key = Ed25519Identity.Generate();
            var nodeDirectory = Path.GetFullPath(Path.Combine(directory, $"node-{i}"));
            var listen = $"/ip4/127.0.0.1/tcp/{basePort + 2 * i}";
            var metrics = $"127.0.0.1:{basePort + 2 * i + 1}";
            var configPath = Path.Combine(nodeDirectory, "config", "node.toml");
            Directory.CreateDirectory(Path.GetDirectoryName(configPath)!);
            // Our node.toml first: NodeFiles keeps an existing one and writes the key and the (empty) certificate file.
            // The first 3 nodes serve mailboxes, one per provider label (replica first, then ephemeral).
            var mailbox = i < Devnet.DevnetMailboxes.Providers.Length;
            File.WriteAllText(configPath, Toml(key.PeerId, nodeDirectory, genesisPath, listen, metrics, bootstrap)
                + (mailbox ? $"\n[mailbox]\nenabled = true\nrole = \"{(i == 0 ? "replica" : "ephemeral")}\"\n" : "")
                + (mailbox || Devnet.DevnetArchive.IsHolder(i) ? Devnet.DevnetArchive.Toml(i, nodes, Path.GetFullPath(directory)) : ""));
            var files = NodeFiles.Write(nodeDirectory, key, passphrase: null, KdfParameters.NodeKey, new NodeSettings(Network: genesisPath));
            File.WriteAllBytes(files.CertPath, Devnet.DevnetArchive.Certificate(issuer, key, certificateValidity, i, mailbox ? Devnet.DevnetMailboxes.Providers[i] : null).Encode());
            bootstrap ??= $"{listen}/p2p/{key.PeerId}";
            written.Add(new DevnetNodeFiles(i, key.PeerId.ToString(), nodeDirectory, configPath, $"{listen}/p2p/{key.PeerId}", metrics));
        }
        var mailboxSlots = written.Take(Devnet.DevnetMailboxes.Providers.Length).Select(n => n.PeerId).ToList();
        Devnet.DevnetMailboxes.WriteGroup(Path.GetFullPath(directory), issuer.Network.Name, mailboxSlots, genesisPath, bootstrap!);
        // Until a CRL is in the DHT every node reports its revocation data as stale; this one is ready to publish.
        var firstCrlPath = Path.GetFullPath(Path.Combine(authority, "crl-1.bin"));
        File.WriteAllBytes(firstCrlPath, issuer.IssueCrl([], TimeSpan.FromDays(7)).Encode());
        return new DevnetFiles(genesisPath, anchorsPath, anchorKeyPath, written, firstCrlPath);
    }

    private static void WriteKey(string path, Ed25519Identity key, KeyFileKind kind)
    {
        var bytes = KeyFile.EncodePlain(key, kind);
        try
        {
            KeyFile.WriteSecret(path, bytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    private static string Toml(PeerId peer, string nodeDirectory, string genesis, string listen, string metrics, string? bootstrap)
    {
        static string Q(string v) => "\"" + v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        var b = new StringBuilder();
        b.AppendLine("# Written by `kontinuum devnet init`. Every key can be overridden by KONTINUUM__SECTION__KEY.");
        b.AppendLine(CultureInfo.InvariantCulture, $"# peer id: {peer}");
        b.AppendLine();
        b.AppendLine("[identity]");
        b.AppendLine(CultureInfo.InvariantCulture, $"key_file = {Q(Path.Combine(nodeDirectory, "keys", "node.key"))}");
        b.AppendLine(CultureInfo.InvariantCulture, $"cert_file = {Q(Path.Combine(nodeDirectory, "keys", "node.cert"))}");
        b.AppendLine();
        b.AppendLine("[node]");
        b.AppendLine("tier = 2");
        b.AppendLine("geo_zone = \"local\"");
        b.AppendLine(CultureInfo.InvariantCulture, $"data_dir = {Q(Path.Combine(nodeDirectory, "data"))}");
        b.AppendLine();
        b.AppendLine("[network]");
        b.AppendLine(CultureInfo.InvariantCulture, $"network = {Q(genesis)}");
        b.AppendLine(CultureInfo.InvariantCulture, $"listen = [{Q(listen)}]");
        b.AppendLine(CultureInfo.InvariantCulture, $"extra_bootstrap_peers = [{(bootstrap is null ? "" : Q(bootstrap))}]");
        b.AppendLine("mdns = false");
        b.AppendLine();
        b.AppendLine("[dht]");
        b.AppendLine("mode = \"server\"");
        b.AppendLine();
        b.AppendLine("# A devnet is small and local: refresh and republish often so changes show within seconds.");
        b.AppendLine("[crl]");
        b.AppendLine("refresh_interval = \"5s\"");
        b.AppendLine();
        b.AppendLine("[records]");
        b.AppendLine("republish_interval = \"10s\"");
        b.AppendLine();
        b.AppendLine("[metrics]");
        b.AppendLine(CultureInfo.InvariantCulture, $"listen = {Q(metrics)}");
        return b.ToString();
    }
}
