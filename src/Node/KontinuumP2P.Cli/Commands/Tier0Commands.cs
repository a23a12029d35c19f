using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Certs.Trust;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum tier0 …</c>: the Tier 0 key ceremony and multi-signature tools (docs/trust.md).</summary>
internal static class Tier0Commands
{
    /// <summary>The <c>tier0</c> command group.</summary>
    public static Command Create()
    {
        var tier0 = new Command("tier0", "Tier 0 anchor keys: ceremony, backup, Shamir shares, signing, rotation");
        tier0.Subcommands.Add(Generate());
        tier0.Subcommands.Add(Backup());
        tier0.Subcommands.Add(Restore());
        tier0.Subcommands.Add(Split());
        tier0.Subcommands.Add(Combine());
        tier0.Subcommands.Add(ExportPubkey());
        tier0.Subcommands.Add(TrustCli.SignCommand("sign", null));
        tier0.Subcommands.Add(TrustCli.AssembleCommand("assemble", null));
        tier0.Subcommands.Add(Rotate());
        return tier0;
    }

    private static Command Generate()
    {
        var entropy = new Option<string[]>("--entropy") { Description = "Operator entropy file (dice rolls, camera noise …); repeatable", AllowMultipleArgumentsPerToken = true };
        var output = TrustCli.OutputOption();
        var json = TrustCli.JsonOption();
        var cmd = new Command("generate", "Generate an anchor key from OS randomness mixed with operator entropy through BLAKE3") { entropy, output, json };
        cmd.SetAction((pr, ct) => TrustCli.RunAsync(pr, async () =>
        {
            var files = pr.GetValue(entropy) ?? [];
            if (files.Length == 0) TrustCli.Warn(pr, "no --entropy file given: the key uses OS randomness only");
            var streams = files.Select(f => (Stream)File.OpenRead(f)).ToList();
            try
            {
                using var key = await AnchorKeyGenerator.GenerateAsync(streams, ct).ConfigureAwait(false);
                var path = pr.GetValue(output)!;
                KeyFile.WriteSecret(path, KeyFile.EncodePlain(key, KeyFileKind.Tier0));
                TrustCli.Report(pr, pr.GetValue(json), new JsonObject
                {
                    ["publicKey"] = Convert.ToHexStringLower(key.PublicKey),
                    ["keyId"] = Anchor.KeyIdOf(key.PublicKey),
                    ["output"] = path,
                    ["entropyFiles"] = files.Length,
                }, $"anchor key written to {path} (mode 0600)\npublic key {Convert.ToHexStringLower(key.PublicKey)}");
            }
            finally
            {
                foreach (var s in streams) await s.DisposeAsync().ConfigureAwait(false);
            }
        }));
        return cmd;
    }

    private static Command Backup()
    {
        var key = new Option<string>("--key") { Description = "Plain Tier 0 key file", Required = true };
        var output = TrustCli.OutputOption();
        var (file, env) = TrustCli.PassphraseOptions();
        var (memory, passes) = TrustCli.KdfOptions(KdfParameters.Backup);
        var json = TrustCli.JsonOption();
        var cmd = new Command("backup", "Encrypt a Tier 0 key under a passphrase (Argon2id + XChaCha20-Poly1305)") { key, output, file, env, memory, passes, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            using var identity = TrustCli.LoadKey(pr.GetValue(key)!, KeyFileKind.Tier0, null);
            var passphrase = TrustCli.RequirePassphrase(pr, file, env);
            if (passphrase.Length < 32) throw new ArgumentException($"backup passphrase has {passphrase.Length} characters; the ceremony requires at least 32");
            var kdf = TrustCli.Kdf(pr, memory, passes);
            var path = pr.GetValue(output)!;
            KeyFile.WriteSecret(path, KeyFile.EncodeEncrypted(identity, KeyFileKind.Tier0, passphrase, kdf));
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject
            {
                ["output"] = path,
                ["publicKey"] = Convert.ToHexStringLower(identity.PublicKey),
                ["kdf"] = kdf.ToString(),
                ["aead"] = "XChaCha20-Poly1305",
            }, $"encrypted backup written to {path} ({kdf}, XChaCha20-Poly1305)");
        }));
        return cmd;
    }

    private static Command Restore()
    {
        var backup = new Option<string>("--backup") { Description = "Encrypted backup", Required = true };
        var output = TrustCli.OutputOption();
        var (file, env) = TrustCli.PassphraseOptions();
        var json = TrustCli.JsonOption();
        var cmd = new Command("restore", "Decrypt a Tier 0 backup into a plain key file (mode 0600)") { backup, output, file, env, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            var passphrase = TrustCli.RequirePassphrase(pr, file, env);
            using var identity = TrustCli.LoadKey(pr.GetValue(backup)!, KeyFileKind.Tier0, passphrase);
            var path = pr.GetValue(output)!;
            KeyFile.WriteSecret(path, KeyFile.EncodePlain(identity, KeyFileKind.Tier0));
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject { ["output"] = path, ["publicKey"] = Convert.ToHexStringLower(identity.PublicKey) },
                $"key restored to {path}");
        }));
        return cmd;
    }

    private static Command Split()
    {
        var secret = new Option<string>("--secret-file") { Description = "File whose first line is the secret (the backup passphrase)", Required = true };
        var threshold = new Option<int>("--threshold") { Description = "Shares needed", DefaultValueFactory = _ => 3 };
        var shares = new Option<int>("--shares") { Description = "Shares made", DefaultValueFactory = _ => 5 };
        var dir = new Option<string>("--output-dir") { Description = "Folder for share-N.txt files", Required = true };
        var json = TrustCli.JsonOption();
        var cmd = new Command("split", "Split a secret into Shamir shares over GF(256) (3-of-5 by default)") { secret, threshold, shares, dir, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            var text = PassphraseSource.Read(pr.GetValue(secret), null)!;
            var parts = ShamirSecretSharing.Split(System.Text.Encoding.UTF8.GetBytes(text), pr.GetValue(threshold), pr.GetValue(shares));
            Directory.CreateDirectory(pr.GetValue(dir)!);
            var paths = new JsonArray();
            foreach (var share in parts)
            {
                var path = Path.Combine(pr.GetValue(dir)!, $"share-{share.Index}.txt");
                KeyFile.WriteSecret(path, System.Text.Encoding.ASCII.GetBytes(share + "\n"));
                paths.Add(path);
            }
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject { ["threshold"] = pr.GetValue(threshold), ["shares"] = paths, ["setId"] = parts[0].SetId.ToString("x8") },
                $"{parts.Count} shares written to {pr.GetValue(dir)}; any {pr.GetValue(threshold)} rebuild the secret");
        }));
        return cmd;
    }

    private static Command Combine()
    {
        var files = new Argument<string[]>("shares") { Description = "Share files", Arity = ArgumentArity.OneOrMore };
        var output = TrustCli.OutputOption();
        var json = TrustCli.JsonOption();
        var cmd = new Command("combine", "Rebuild a secret from Shamir shares; altered shares are detected") { files, output, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            var shares = new List<ShamirShare>();
            foreach (var path in pr.GetValue(files)!)
            {
                try
                {
                    shares.Add(ShamirShare.Parse(File.ReadAllText(path)));
                }
                catch (TrustFormatException e)
                {
                    throw new TrustFormatException($"{path}: {e.Message}", e);
                }
            }
            var result = ShamirSecretSharing.Combine(shares);
            var outPath = pr.GetValue(output)!;
            KeyFile.WriteSecret(outPath, [.. result.Secret, (byte)'\n']);
            CryptographicOperations.ZeroMemory(result.Secret);
            foreach (var bad in result.RejectedIndices) TrustCli.Warn(pr, $"share {bad} does not fit the others: it was altered");
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject { ["output"] = outPath, ["rejectedShares"] = new JsonArray([.. result.RejectedIndices.Select(i => (JsonNode)i)]) },
                $"secret written to {outPath}");
        }));
        return cmd;
    }

    private static Command ExportPubkey()
    {
        var key = new Option<string>("--key") { Description = "Tier 0 key file (plain or encrypted)", Required = true };
        var (file, env) = TrustCli.PassphraseOptions();
        var json = TrustCli.JsonOption();
        var cmd = new Command("export-pubkey", "Print an anchor's public key as hex") { key, file, env, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            var bytes = KeyFile.ReadBounded(pr.GetValue(key)!, KeyFile.MaxFileLength);
            var passphrase = KeyFile.IsEncrypted(bytes) ? TrustCli.RequirePassphrase(pr, file, env) : null;
            using var identity = KeyFile.Decode(bytes, KeyFileKind.Tier0, passphrase);
            var hex = Convert.ToHexStringLower(identity.PublicKey);
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject { ["publicKey"] = hex, ["keyId"] = Anchor.KeyIdOf(identity.PublicKey) }, hex);
        }));
        return cmd;
    }

    private static Command Rotate()
    {
        var anchors = TrustCli.AnchorsOption();
        var transitions = TrustCli.TransitionsOption();
        var next = new Option<string>("--new-anchors") { Description = "Anchors file of the next set (version = current + 1)", Required = true };
        var overlap = new Option<int>("--overlap-days") { Description = "Days the current set stays accepted (0..183)", DefaultValueFactory = _ => 90 };
        var output = TrustCli.OutputOption();
        var json = TrustCli.JsonOption();
        var cmd = new Command("rotate", "Draft the transition to the next anchor set; then sign it with old and new keys and assemble") { anchors, transitions, next, overlap, output, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            var trust = TrustCli.LoadTrust(pr, anchors, transitions);
            var nextSet = AnchorSetJson.Parse(File.ReadAllText(pr.GetValue(next)!));
            if (nextSet.Version != trust.Current.Version + 1)
                throw new ArgumentException($"--new-anchors has version {nextSet.Version}; the current set is {trust.Current.Version}, so it must be {trust.Current.Version + 1}");
            var draft = AnchorTransition.Draft(trust.Current, nextSet, TimeProvider.System.GetUtcNow(), TimeSpan.FromDays(pr.GetValue(overlap)));
            TrustCli.WriteFile(pr.GetValue(output)!, draft.Encode());
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject
            {
                ["from"] = trust.Current.Version,
                ["to"] = nextSet.Version,
                ["overlapUntil"] = draft.Body.OverlapUntil.ToString("O"),
                ["oldSignaturesNeeded"] = trust.Current.RotationThreshold,
                ["newSignaturesNeeded"] = nextSet.RotationThreshold,
                ["output"] = pr.GetValue(output),
            }, $"transition draft {trust.Current.Version} → {nextSet.Version} written to {pr.GetValue(output)}; needs {trust.Current.RotationThreshold} old and {nextSet.RotationThreshold} new signatures");
        }));
        return cmd;
    }
}
