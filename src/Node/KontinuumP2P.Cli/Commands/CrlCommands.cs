using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Mnemonics;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum crl …</c>: sign, assemble and show certificate revocation lists.</summary>
internal static class CrlCommands
{
    /// <summary>The <c>crl</c> command group (drafts come from <c>cert revoke</c>).</summary>
    public static Command Create()
    {
        var crl = new Command("crl", "Certificate revocation lists: partial signatures, assembly, display, publication");
        crl.Subcommands.Add(TrustCli.SignCommand("sign", DocumentKind.Crl));
        crl.Subcommands.Add(TrustCli.AssembleCommand("assemble", DocumentKind.Crl));
        crl.Subcommands.Add(TrustCli.ShowCommand("show", DocumentKind.Crl));
        crl.Subcommands.Add(PublishCommands.CrlPublish());
        return crl;
    }
}

/// <summary>Shared plumbing of the trust commands: options, file I/O with bounds, error reporting, JSON output.</summary>
internal static class TrustCli
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Option<bool> JsonOption() => new("--json") { Description = "Print one JSON object only" };

    public static Option<string> OutputOption() => new("--output", "-o") { Description = "File to write", Required = true };

    public static Option<string> AnchorsOption() => new("--anchors") { Description = "Anchors file (JSON, the genesis/compiled set)", Required = true };

    public static Option<string[]> TransitionsOption() =>
        new("--transition") { Description = "Signed transition files applied in order after the anchors file; repeatable", AllowMultipleArgumentsPerToken = true };

    public static (Option<string> File, Option<string> Env) PassphraseOptions(string defaultEnv = PassphraseSource.DefaultEnvironmentVariable) =>
        (new Option<string>("--passphrase-file") { Description = "File whose first line is the passphrase" },
         new Option<string>("--passphrase-env") { Description = "Environment variable holding the passphrase", DefaultValueFactory = _ => defaultEnv });

    public static (Option<int> MemoryMiB, Option<int> Passes) KdfOptions(KdfParameters defaults) =>
        (new Option<int>("--kdf-memory-mib") { Description = "Argon2id memory in MiB", DefaultValueFactory = _ => defaults.MemoryKiB / 1024 },
         new Option<int>("--kdf-passes") { Description = "Argon2id passes", DefaultValueFactory = _ => defaults.Passes });

    public static int Run(ParseResult pr, Action body)
    {
        try
        {
            body();
            return 0;
        }
        catch (Exception e) when (IsUserError(e))
        {
            return Fail(pr, e);
        }
    }

    public static async Task<int> RunAsync(ParseResult pr, Func<Task> body)
    {
        try
        {
            await body().ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (IsUserError(e))
        {
            return Fail(pr, e);
        }
    }

    public static void Warn(ParseResult pr, string message) => pr.InvocationConfiguration.Error.WriteLine($"warning: {message}");

    public static void Report(ParseResult pr, bool json, JsonObject report, string human)
    {
        if (json) CliOutput.WriteJsonLine(pr, report);
        else CliOutput.WriteLine(pr, human);
    }

    public static string RequirePassphrase(ParseResult pr, Option<string> file, Option<string> env) =>
        PassphraseSource.Read(pr.GetValue(file), pr.GetValue(env))
        ?? throw new ArgumentException($"no passphrase: give --passphrase-file or set {pr.GetValue(env)}");

    public static KdfParameters Kdf(ParseResult pr, Option<int> memoryMiB, Option<int> passes)
    {
        var kdf = new KdfParameters(checked(pr.GetValue(memoryMiB) * 1024), pr.GetValue(passes));
        kdf.Validate();
        return kdf;
    }

    public static Ed25519Identity LoadKey(string path, KeyFileKind kind, string? passphrase) =>
        KeyFile.Decode(KeyFile.ReadBounded(path, KeyFile.MaxFileLength), kind, passphrase);

    public static TrustAnchors LoadTrust(ParseResult pr, Option<string> anchors, Option<string[]> transitions)
    {
        var path = pr.GetValue(anchors)!;
        var set = AnchorSetJson.Parse(Encoding.UTF8.GetString(KeyFile.ReadBounded(path, AnchorSetJson.MaxLength)));
        var trust = TrustAnchors.Create(set, TimeProvider.System);
        foreach (var file in pr.GetValue(transitions) ?? [])
        {
            var result = trust.ApplyTransition(AnchorTransition.FromDocument(ReadDocument(file, DocumentKind.Transition)));
            if (!result.IsApplied) throw new TrustConfigurationException($"{file}: transition refused ({result.Status}): {result.Detail}");
            trust = result.Anchors;
        }
        return trust;
    }

    public static SignedDocument ReadDocument(string path, DocumentKind? kind)
    {
        try
        {
            return SignedDocument.Decode(KeyFile.ReadBounded(path, Crl.MaxEncodedLength), kind, Crl.MaxEncodedLength);
        }
        catch (TrustFormatException e)
        {
            throw new TrustFormatException($"{path}: {e.Message}", e);
        }
    }

    public static void WriteFile(string path, byte[] bytes)
    {
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
    }

    public static Command SignCommand(string name, DocumentKind? kind)
    {
        var document = new Argument<string>("document") { Description = "Draft (or partly signed) document" };
        var key = new Option<string>("--key") { Description = "Tier 0 key file (plain or encrypted)", Required = true };
        var (file, env) = PassphraseOptions();
        var output = OutputOption();
        var json = JsonOption();
        var what = kind is null ? "a certificate, CRL or transition draft" : $"a {SignedDocument.Describe(kind.Value)} draft";
        var cmd = new Command(name, $"Make this anchor's partial signature over {what}") { document, key, file, env, output, json };
        cmd.SetAction(pr => Run(pr, () =>
        {
            var draft = ReadDocument(pr.GetValue(document)!, kind);
            DocumentJson.Describe(draft); // parses the body: never sign bytes that are not a valid document
            var bytes = KeyFile.ReadBounded(pr.GetValue(key)!, KeyFile.MaxFileLength);
            var passphrase = KeyFile.IsEncrypted(bytes) ? RequirePassphrase(pr, file, env) : null;
            using var identity = KeyFile.Decode(bytes, KeyFileKind.Tier0, passphrase);
            var partial = PartialSignature.Create(draft, identity);
            WriteFile(pr.GetValue(output)!, partial.Encode());
            Report(pr, pr.GetValue(json), new JsonObject
            {
                ["kind"] = SignedDocument.Describe(draft.Kind),
                ["keyId"] = Anchor.KeyIdOf(identity.PublicKey),
                ["bodySha256"] = Convert.ToHexStringLower(partial.BodyHash.Span),
                ["output"] = pr.GetValue(output),
            }, $"partial signature by {Anchor.KeyIdOf(identity.PublicKey)} written to {pr.GetValue(output)}");
        }));
        return cmd;
    }

    public static Command AssembleCommand(string name, DocumentKind? kind)
    {
        var document = new Argument<string>("document") { Description = "The draft that was signed" };
        var partials = new Option<string[]>("--partial") { Description = "Partial signature files; repeatable", Required = true, AllowMultipleArgumentsPerToken = true };
        var anchors = AnchorsOption();
        var transitions = TransitionsOption();
        var output = OutputOption();
        var json = JsonOption();
        var cmd = new Command(name, "Assemble partial signatures into the multi-signed document once the threshold is reached") { document, partials, anchors, transitions, output, json };
        cmd.SetAction(pr => Run(pr, () =>
        {
            var draft = ReadDocument(pr.GetValue(document)!, kind);
            var parts = pr.GetValue(partials)!.Select(p =>
            {
                try
                {
                    return PartialSignature.Decode(KeyFile.ReadBounded(p, PartialSignature.MaxLength));
                }
                catch (TrustFormatException e)
                {
                    throw new TrustFormatException($"{p}: {e.Message}", e);
                }
            }).ToList();
            var assembled = DocumentAssembler.Assemble(draft, parts, LoadTrust(pr, anchors, transitions));
            WriteFile(pr.GetValue(output)!, assembled.Encode());
            Report(pr, pr.GetValue(json), new JsonObject
            {
                ["kind"] = SignedDocument.Describe(assembled.Kind),
                ["signatures"] = assembled.Signatures.Count,
                ["output"] = pr.GetValue(output),
            }, $"{SignedDocument.Describe(assembled.Kind)} with {assembled.Signatures.Count} signatures written to {pr.GetValue(output)}");
        }));
        return cmd;
    }

    public static Command ShowCommand(string name, DocumentKind kind)
    {
        var document = new Argument<string>("file") { Description = $"{SignedDocument.Describe(kind)} file" };
        var json = JsonOption();
        var cmd = new Command(name, $"Print a {SignedDocument.Describe(kind)} as JSON") { document, json };
        cmd.SetAction(pr => Run(pr, () =>
        {
            var described = DocumentJson.Describe(ReadDocument(pr.GetValue(document)!, kind));
            if (pr.GetValue(json)) CliOutput.WriteJsonLine(pr, described);
            else CliOutput.WriteLine(pr, described.ToJsonString(Indented));
        }));
        return cmd;
    }

    private static bool IsUserError(Exception e) => IsBadInput(e) || e is ThresholdNotMetException or IOException
        or UnauthorizedAccessException or CryptographicException;

    /// <summary>Malformed files, bad values, unusable configurations: the input is wrong, not the environment.</summary>
    private static bool IsBadInput(Exception e) => e is TrustFormatException or TrustConfigurationException
        or InvalidMnemonicException or ArgumentException or FormatException or OverflowException;

    private static int Fail(ParseResult pr, Exception e) =>
        CliOutput.Fail(pr, e is CryptographicException ? $"cannot decrypt: {e.Message}" : e.Message,
            IsBadInput(e) ? ExitCodes.InvalidInput : ExitCodes.Failure);
}
