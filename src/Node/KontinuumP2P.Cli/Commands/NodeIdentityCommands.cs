using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Certs.Mnemonics;
using KontinuumP2P.Certs.NodeIdentity;
using KontinuumP2P.Certs.Secrets;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum node bootstrap|recover</c> (the node identity from a BIP39 phrase), plus <c>run|status</c> from <see cref="NodeRunCommand"/>.</summary>
internal static class NodeIdentityCommands
{
    /// <summary>Environment variable read for the key-file passphrase.</summary>
    public const string PassphraseVariable = "KONTINUUM_NODE_PASSPHRASE";

    /// <summary>Environment variable read by <c>node recover</c> for the phrase when no file is given.</summary>
    public const string PhraseVariable = "KONTINUUM_RECOVERY_PHRASE";

    /// <summary>The <c>node</c> group: bootstrap, recover, run and status.</summary>
    public static Command Create()
    {
        var node = new Command("node", "Node identity and operation");
        AddTo(node);
        return node;
    }

    /// <summary>Adds bootstrap, recover, run and status to an existing <c>node</c> command.</summary>
    public static void AddTo(Command node)
    {
        node.Subcommands.Add(Bootstrap());
        node.Subcommands.Add(Recover());
        NodeRunCommand.AddTo(node);
    }

    private static Command Bootstrap()
    {
        var output = new Option<string>("--output", "-o") { Description = "Node directory (keys/, config/)", DefaultValueFactory = _ => "/var/lib/kontinuum-node" };
        var (file, env) = TrustCli.PassphraseOptions(PassphraseVariable);
        var (memory, passes) = TrustCli.KdfOptions(KdfParameters.NodeKey);
        var tier = new Option<int>("--tier") { DefaultValueFactory = _ => 1, Description = "1 or 2" };
        var tenancy = new Option<string>("--tenancy") { DefaultValueFactory = _ => "multi", Description = "single or multi" };
        var op = new Option<string>("--operator") { DefaultValueFactory = _ => "org", Description = "org, partner, byo:vps or byo:home" };
        var geo = new Option<string>("--geo-zone") { DefaultValueFactory = _ => "", Description = "Geo zone, e.g. eu-west" };
        var network = new Option<string>("--network") { DefaultValueFactory = _ => "mainnet", Description = "mainnet, open or a genesis file" };
        var json = TrustCli.JsonOption();
        var cmd = new Command("bootstrap", "Create a node identity from a fresh 12-word BIP39 phrase (printed once, never stored)")
        {
            output, file, env, memory, passes, tier, tenancy, op, geo, network, json,
        };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            var passphrase = PassphraseSource.Read(pr.GetValue(file), pr.GetValue(env));
            var phrase = Bip39.Generate(12);
            using var key = NodeKeyDerivation.FromPhrase(phrase);
            var settings = new NodeSettings(pr.GetValue(tier), pr.GetValue(tenancy)!, pr.GetValue(op)!, pr.GetValue(geo)!, pr.GetValue(network)!);
            var files = NodeFiles.Write(pr.GetValue(output)!, key, passphrase, TrustCli.Kdf(pr, memory, passes), settings);
            if (!files.Encrypted)
                TrustCli.Warn(pr, $"{files.KeyPath} is NOT encrypted (mode 0600 only): give --passphrase-file or set {pr.GetValue(env)} to encrypt it");
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject
            {
                ["peerId"] = key.PeerId.ToString(),
                ["nodePubkey"] = Convert.ToHexStringLower(key.PublicKey),
                ["recoveryPhrase"] = phrase,
                ["keyFile"] = files.KeyPath,
                ["encrypted"] = files.Encrypted,
                ["certFile"] = files.CertPath,
                ["config"] = files.ConfigPath,
            }, $"""
                peer id       {key.PeerId}
                key file      {files.KeyPath} ({(files.Encrypted ? "encrypted" : "plain, mode 0600")})
                config        {files.ConfigPath}
                certificate   {files.CertPath} (empty: request one with `kontinuum cert request`)

                RECOVERY PHRASE — write it down now; it is shown once and stored nowhere:

                    {phrase}
                """);
        }));
        return cmd;
    }

    private static Command Recover()
    {
        var output = new Option<string>("--output", "-o") { Description = "Node directory to write keys/node.key into", Required = true };
        var phraseFile = new Option<string>("--phrase-file") { Description = $"File holding the 12 words (else ${PhraseVariable}, else standard input)" };
        var (file, env) = TrustCli.PassphraseOptions(PassphraseVariable);
        var (memory, passes) = TrustCli.KdfOptions(KdfParameters.NodeKey);
        var json = TrustCli.JsonOption();
        var cmd = new Command("recover", "Rebuild the node key (same PeerId) from its BIP39 phrase") { output, phraseFile, file, env, memory, passes, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            var phrase = pr.GetValue(phraseFile) is { } f ? PassphraseSource.Read(f, null)
                : Environment.GetEnvironmentVariable(PhraseVariable) is { Length: > 0 } fromEnv ? fromEnv
                : Console.In.ReadLine();
            if (string.IsNullOrWhiteSpace(phrase)) throw new ArgumentException("no recovery phrase given");
            using var key = NodeKeyDerivation.FromPhrase(phrase);
            var passphrase = PassphraseSource.Read(pr.GetValue(file), pr.GetValue(env));
            var files = NodeFiles.Write(pr.GetValue(output)!, key, passphrase, TrustCli.Kdf(pr, memory, passes), new NodeSettings());
            if (!files.Encrypted) TrustCli.Warn(pr, $"{files.KeyPath} is NOT encrypted (mode 0600 only)");
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject
            {
                ["peerId"] = key.PeerId.ToString(),
                ["keyFile"] = files.KeyPath,
                ["encrypted"] = files.Encrypted,
            }, $"recovered {key.PeerId} into {files.KeyPath}");
        }));
        return cmd;
    }
}
