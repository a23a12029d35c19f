using System.Globalization;
using System.Text;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Certs.NodeIdentity;

/// <summary>Settings written into a fresh <c>node.toml</c>.</summary>
/// <param name="Tier">1 or 2.</param>
/// <param name="Tenancy"><c>single</c> or <c>multi</c>.</param>
/// <param name="Operator"><c>org</c>, <c>partner</c>, <c>byo:vps</c> or <c>byo:home</c>.</param>
/// <param name="GeoZone">Geo zone, may be empty.</param>
/// <param name="Network"><c>mainnet</c>, <c>open</c> or a genesis file path.</param>
public sealed record NodeSettings(int Tier = 1, string Tenancy = "multi", string Operator = "org", string GeoZone = "", string Network = "mainnet");

/// <summary>What <see cref="NodeFiles.Write"/> produced.</summary>
/// <param name="KeyPath">The key file.</param>
/// <param name="CertPath">The empty certificate file.</param>
/// <param name="ConfigPath">The node.toml.</param>
/// <param name="Encrypted">Whether the key file is encrypted.</param>
public sealed record NodeFileSet(string KeyPath, string CertPath, string ConfigPath, bool Encrypted);

/// <summary>
/// Lays out a node directory: <c>keys/node.key</c> (encrypted under a passphrase when one is given, else plain with
/// mode 0600), <c>keys/node.cert</c> (empty until a certificate is issued) and <c>config/node.toml</c> with defaults.
/// </summary>
public static class NodeFiles
{
    /// <summary>Writes the files; refuses to overwrite an existing key and keeps an existing node.toml and node.cert.</summary>
    /// <exception cref="IOException">A key file already exists there.</exception>
    public static NodeFileSet Write(string directory, Ed25519Identity key, string? passphrase, KdfParameters kdf, NodeSettings settings)
    {
        var keys = Path.Combine(directory, "keys");
        var config = Path.Combine(directory, "config");
        Secrets.DurableFiles.CreatePrivateDirectory(keys);
        Directory.CreateDirectory(config);
        var keyPath = Path.Combine(keys, "node.key");
        if (File.Exists(keyPath)) throw new IOException($"{keyPath} already exists; refusing to overwrite a node key");
        var bytes = passphrase is null ? KeyFile.EncodePlain(key, KeyFileKind.Node) : KeyFile.EncodeEncrypted(key, KeyFileKind.Node, passphrase, kdf);
        KeyFile.WriteSecret(keyPath, bytes);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
        var certPath = Path.Combine(keys, "node.cert");
        if (!File.Exists(certPath)) File.WriteAllBytes(certPath, []);
        var configPath = Path.Combine(config, "node.toml");
        if (!File.Exists(configPath)) File.WriteAllText(configPath, Toml(key, keyPath, certPath, settings));
        return new NodeFileSet(keyPath, certPath, configPath, passphrase is not null);
    }

    private static string Toml(Ed25519Identity key, string keyPath, string certPath, NodeSettings s)
    {
        static string Q(string v) => "\"" + v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        var b = new StringBuilder();
        b.AppendLine("# Written by `kontinuum node bootstrap`. Every key can be overridden by KONTINUUM__SECTION__KEY.");
        b.AppendLine(CultureInfo.InvariantCulture, $"# peer id: {key.PeerId}");
        b.AppendLine();
        b.AppendLine("[identity]");
        b.AppendLine(CultureInfo.InvariantCulture, $"key_file = {Q(Path.GetFullPath(keyPath))}");
        b.AppendLine(CultureInfo.InvariantCulture, $"cert_file = {Q(Path.GetFullPath(certPath))}");
        b.AppendLine("passphrase_env = \"KONTINUUM_NODE_PASSPHRASE\"");
        b.AppendLine();
        b.AppendLine("[node]");
        b.AppendLine(CultureInfo.InvariantCulture, $"tier = {s.Tier}");
        b.AppendLine(CultureInfo.InvariantCulture, $"tenancy = {Q(s.Tenancy)}");
        b.AppendLine(CultureInfo.InvariantCulture, $"operator = {Q(s.Operator)}");
        b.AppendLine(CultureInfo.InvariantCulture, $"geo_zone = {Q(s.GeoZone)}");
        b.AppendLine();
        b.AppendLine("[network]");
        b.AppendLine(CultureInfo.InvariantCulture, $"network = {Q(s.Network)}");
        b.AppendLine("listen = [\"/ip4/0.0.0.0/tcp/4001\"]");
        b.AppendLine("extra_bootstrap_peers = []");
        b.AppendLine("mdns = false");
        b.AppendLine();
        b.AppendLine("[dht]");
        b.AppendLine("mode = \"server\"");
        b.AppendLine("kad_protocol = \"/kontinuum/kad/1.0.0\"");
        return b.ToString();
    }
}
