using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum group create|invite|join|rotate</c>: a device's group directory (design §6, §7).</summary>
internal static class GroupCommands
{
    private static readonly TimeSpan DefaultInviteValidity = TimeSpan.FromDays(7);

    public static Command Create()
    {
        var group = new Command("group", "Create, invite to, join or rotate an end-to-end encrypted mailbox group");
        group.Subcommands.Add(CreateCreate());
        group.Subcommands.Add(CreateInvite());
        group.Subcommands.Add(CreateJoin());
        group.Subcommands.Add(CreateRotate());
        GroupDeviceCommands.AddTo(group);
        return group;
    }

    private static Option<string> DirOption() => new("--dir") { Description = "The group directory (this device's keys, outbox, cursors)", Required = true };

    private static Option<bool> JsonOption() => new("--json") { Description = "Print JSON only" };

    private static Option<double> ValidityOption() => new("--valid-hours") { Description = "Hours the invite stays valid", DefaultValueFactory = _ => DefaultInviteValidity.TotalHours };

    private static Command CreateCreate()
    {
        var network = new Option<string>("--network") { Description = "mainnet or a genesis file", DefaultValueFactory = _ => NetworkDefinition.MainnetName };
        var mailboxes = new Option<string>("--mailboxes") { Description = "Comma-separated mailbox slots or PeerIds (3 on 3 providers); or use --hq" };
        var bootstrap = new Option<string[]>("--bootstrap") { Description = "Bootstrap peer multiaddr with /p2p/<id>; repeatable" };
        var hq = new Option<string>("--hq") { Description = "HQ's admin endpoint (URL): HQ allocates 3 slots on 3 providers and the invite names them" };
        var hqToken = new Option<string>("--hq-token-file") { Description = "File holding HQ's operator token (with --hq)" };
        var role = new Option<string>("--role") { Description = "With --hq: ephemeral or replica mailboxes", DefaultValueFactory = _ => "ephemeral" };
        var region = new Option<string>("--region") { Description = "With --hq: preferred region" };
        var acks = new Option<int>("--required-acks") { Description = "Mailbox acknowledgements a push needs (1..3)", DefaultValueFactory = _ => 1 };
        var dir = DirOption();
        var json = JsonOption();
        var validity = ValidityOption();
        var command = new Command("create", "Create a group: a new group secret and this device's state") { network, mailboxes, dir, bootstrap, hq, hqToken, role, region, acks, validity, json };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var hqEndpoint = parseResult.GetValue(hq);
            var named = parseResult.GetValue(mailboxes);
            if ((hqEndpoint is null) == (named is null))
                return CliOutput.Fail(parseResult, "name the mailboxes with --mailboxes, or let HQ allocate them with --hq (one of the two)", ExitCodes.InvalidInput);
            string? hqGroup = null;
            string[] slots;
            if (hqEndpoint is not null)
            {
                var allocated = await GroupHqAllocation.AllocateAsync(parseResult, hqEndpoint, parseResult.GetValue(hqToken), parseResult.GetValue(role)!,
                    parseResult.GetValue(region), cancellationToken).ConfigureAwait(false);
                if (allocated.Error is { } failure) return failure;
                (hqGroup, slots) = (allocated.GroupId, [.. allocated.Slots!]);
            }
            else slots = named!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var networkText = parseResult.GetValue(network)!;
            var bootstrapTexts = parseResult.GetValue(bootstrap) ?? [];
            if (GroupConnection.Validate(networkText, bootstrapTexts, out var definition, out _) is { } problem)
                return CliOutput.Fail(parseResult, problem, ExitCodes.InvalidInput);
            var directory = parseResult.GetValue(dir)!;
            GroupStore store;
            using var secret = GroupSecret.Generate();
            try
            {
                store = GroupStore.Create(directory, secret, definition!.Name, slots, parseResult.GetValue(acks));
            }
            catch (ArgumentException e)
            {
                return CliOutput.Fail(parseResult, $"--mailboxes/--required-acks: {e.Message}", ExitCodes.InvalidInput);
            }
            catch (IOException e)
            {
                return CliOutput.Fail(parseResult, $"--dir: {e.Message}", ExitCodes.InvalidInput);
            }
            using (store)
            {
                GroupConnection.Save(directory, networkText, bootstrapTexts);
                var invite = GroupClient.CreateInvite(store, TimeSpan.FromHours(parseResult.GetValue(validity)), TimeProvider.System).Encode();
                Print(parseResult, parseResult.GetValue(json), new JsonObject
                {
                    ["group"] = store.GroupLabel,
                    ["device"] = store.DeviceLabel,
                    ["mailboxes"] = CliOutput.Strings(store.Current.Slots),
                    ["hqGroup"] = hqGroup,
                    ["invite"] = invite,
                });
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command CreateInvite()
    {
        var dir = DirOption();
        var json = JsonOption();
        var validity = ValidityOption();
        var command = new Command("invite", "Print an invite to this group (carries the group secret: share it privately)") { dir, validity, json };
        command.SetAction(parseResult =>
        {
            var directory = parseResult.GetValue(dir)!;
            if (!GroupStore.Exists(directory)) return CliOutput.Fail(parseResult, $"--dir: {directory} holds no group", ExitCodes.InvalidInput);
            using var store = GroupStore.Open(directory);
            var invite = GroupClient.CreateInvite(store, TimeSpan.FromHours(parseResult.GetValue(validity)), TimeProvider.System).Encode();
            Print(parseResult, parseResult.GetValue(json), new JsonObject { ["invite"] = invite });
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command CreateJoin()
    {
        var inviteArgument = new Argument<string>("INVITE") { Description = "The invite text" };
        var dir = DirOption();
        var network = new Option<string>("--network") { Description = "mainnet or the genesis file of the invite's network (default: the invite's network name)" };
        var bootstrap = new Option<string[]>("--bootstrap") { Description = "Bootstrap peer multiaddr with /p2p/<id>; repeatable" };
        var passphraseEnv = new Option<string>("--passphrase-env") { Description = "Environment variable holding the group passphrase (passphrase groups)" };
        var json = JsonOption();
        var command = new Command("join", "Join a group with an invite (an existing directory of the group joins its rotated generation)")
            { inviteArgument, dir, network, bootstrap, passphraseEnv, json };
        command.SetAction(parseResult =>
        {
            Invite invite;
            try
            {
                invite = Invite.Parse(parseResult.GetValue(inviteArgument)!, DateTimeOffset.UtcNow);
            }
            catch (InviteException e)
            {
                return CliOutput.Fail(parseResult, $"INVITE: {e.Message}", ExitCodes.InvalidInput);
            }
            var networkText = parseResult.GetValue(network) ?? invite.Network;
            var directory = parseResult.GetValue(dir)!;
            var existing = GroupStore.Exists(directory);
            var bootstrapTexts = parseResult.GetValue(bootstrap) ?? (existing ? GroupConnection.Load(directory).Bootstrap.ToArray() : []);
            if (GroupConnection.Validate(networkText, bootstrapTexts, out var definition, out _) is { } problem)
                return CliOutput.Fail(parseResult, problem, ExitCodes.InvalidInput);
            if (definition!.Name != invite.Network)
                return CliOutput.Fail(parseResult, $"--network: the invite is for network '{invite.Network}', not '{definition.Name}'", ExitCodes.InvalidInput);
            var passphrase = parseResult.GetValue(passphraseEnv) is { } variable ? Environment.GetEnvironmentVariable(variable) : null;
            GroupSecret secret;
            try
            {
                secret = invite.OpenSecret(passphrase);
            }
            catch (ArgumentException e)
            {
                return CliOutput.Fail(parseResult, $"--passphrase-env: {e.Message}", ExitCodes.InvalidInput);
            }
            using (secret)
            {
                var passphraseInfo = invite.NeedsPassphrase ? new PassphraseInfo(invite.Salt!, invite.Kdf!) : null;
                GroupStore store;
                if (existing)
                {
                    store = GroupStore.Open(directory);
                    if (!store.Generations.Any(g => g.Secret.SameAs(secret)))
                    {
                        store.AddGeneration(secret, invite.Slots, passphraseInfo);
                        // Pushes the old mailboxes still owe go to the new ones (the old ones get closed).
                        store.MoveOutboxToCurrent(DateTimeOffset.UtcNow);
                    }
                }
                else
                {
                    store = GroupStore.Create(directory, secret, invite.Network, invite.Slots, 1, passphraseInfo);
                }
                using (store)
                {
                    // Read keys of earlier generations: this directory can then open the re-pushed history.
                    if (invite.HistoryKeys is { Count: > 0 } history) store.ImportReadKeys(history);
                    GroupConnection.Save(directory, networkText, bootstrapTexts);
                    Print(parseResult, parseResult.GetValue(json), new JsonObject
                    {
                        ["group"] = store.GroupLabel,
                        ["device"] = store.DeviceLabel,
                        ["device_ref"] = DeviceReference.Of(store).ToString(),
                    });
                }
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command CreateRotate()
    {
        var dir = DirOption();
        var output = new Option<string>("--out") { Description = "Folder for blobs applied while draining the old mailboxes (default GROUPDIR/received)" };
        var validity = ValidityOption();
        var json = JsonOption();
        var command = new Command("rotate", "Rotate the group secret (shuts out a lost device); prints the invite the other devices join with") { dir, output, validity, json };
        command.SetAction((parseResult, cancellationToken) =>
        {
            var directory = parseResult.GetValue(dir)!;
            var outDir = parseResult.GetValue(output) ?? Path.Combine(directory, "received");
            return GroupConnection.RunAsync(parseResult, directory, async (client, ct) =>
            {
                Directory.CreateDirectory(outDir);
                var rotation = await client.RotateAsync(MailboxCommands.WriteTo(outDir), TimeSpan.FromHours(parseResult.GetValue(validity)), ct).ConfigureAwait(false);
                Print(parseResult, parseResult.GetValue(json), new JsonObject
                {
                    ["group"] = client.Store.GroupLabel,
                    ["generation"] = rotation.Generation,
                    ["invite"] = rotation.Invite.Encode(),
                    ["outbox"] = client.Store.OutboxCount(),
                    ["closed"] = GroupDeviceCommands.Closures(rotation.Closed),
                    ["device_ref"] = client.Device.ToString(),
                });
                return ExitCodes.Success;
            }, cancellationToken);
        });
        return command;
    }

    private static void Print(ParseResult parseResult, bool json, JsonObject value)
    {
        if (json) CliOutput.WriteJsonLine(parseResult, value);
        else foreach (var (key, node) in value) CliOutput.WriteLine(parseResult, $"{key}: {node?.ToJsonString() ?? "null"}");
    }
}
