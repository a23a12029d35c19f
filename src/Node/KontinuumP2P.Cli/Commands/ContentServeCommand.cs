using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// <c>kontinuum content serve --group DIR</c>: runs this device's node until SIGINT or SIGTERM, serving the contents it
/// put (read-only, re-sealed from the original files) so a receiver fetches from the sender the chunks no mailbox node
/// holds. Its peer id (key in <c>GROUPDIR/content-sender/</c>) and listen addresses are saved for <c>content put</c>,
/// which names them in each reference from then on; offers recorded by a put while it runs are picked up at the next
/// rescan. The first line announces the node; then one line per content offered or refused.
/// </summary>
internal static class ContentServeCommand
{
    public static Command Create()
    {
        var group = new Option<string>("--group") { Description = "The group directory", Required = true };
        var listen = new Option<string[]>("--listen")
        {
            Description = "Multiaddrs to listen on (default: the addresses of the last run, else /ip4/0.0.0.0/tcp/0); references name them",
            AllowMultipleArgumentsPerToken = true,
        };
        var rescan = new Option<TimeSpan>("--rescan") { Description = "How often to look for contents put since (default 00:00:02)", DefaultValueFactory = _ => TimeSpan.FromSeconds(2) };
        var json = new Option<bool>("--json") { Description = "Print JSON lines only" };
        var command = new Command("serve", "Serve the contents this device put (to receivers missing chunks) until SIGINT/SIGTERM") { group, listen, rescan, json };
        command.SetAction((parseResult, cancellationToken) =>
        {
            var directory = parseResult.GetValue(group)!;
            var asJson = parseResult.GetValue(json);
            var interval = parseResult.GetValue(rescan);
            if (interval < TimeSpan.FromMilliseconds(100) || interval > TimeSpan.FromHours(1))
                return Task.FromResult(CliOutput.Fail(parseResult, "--rescan: between 00:00:00.1 and 01:00:00", ExitCodes.InvalidInput));
            List<Multiaddr> addresses;
            try
            {
                addresses = [.. (parseResult.GetValue(listen) ?? []).Select(Multiaddr.Parse)];
                if (addresses.Count == 0 && GroupStoreExists(directory)) addresses = SavedListenAddresses(directory);
            }
            catch (Exception e) when (e is FormatException or InvalidDataException)
            {
                return Task.FromResult(CliOutput.Fail(parseResult, $"--listen: {e.Message}", ExitCodes.InvalidInput));
            }
            if (!GroupStoreExists(directory)) return Task.FromResult(CliOutput.Fail(parseResult, $"--group: {directory} holds no group", ExitCodes.InvalidInput));
            return ServeAsync(parseResult, directory, addresses, interval, asJson, cancellationToken);
        });
        return command;
    }

    private static bool GroupStoreExists(string directory) => Mailbox.Client.GroupStore.Exists(directory);

    private static async Task<int> ServeAsync(ParseResult parseResult, string directory, List<Multiaddr> listen, TimeSpan interval, bool asJson,
        CancellationToken cancellationToken)
    {
        using var serving = ContentSenderFiles.TryLockServing(directory);
        if (serving is null) return CliOutput.Fail(parseResult, ContentSenderFiles.AlreadyServing, ExitCodes.InvalidInput);
        using var identity = ContentSenderFiles.LoadOrCreateIdentity(directory);
        return await GroupConnection.RunWithNodeAsync(parseResult, directory, async (node, _, ct) =>
        {
            await ServeOffersAsync(parseResult, directory, node, interval, asJson, null, ct).ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken, ServingNode(identity, listen)).ConfigureAwait(false);
    }

    /// <summary>The node options of a process that serves the device's own contents (the caller holds the serving lock).</summary>
    internal static Action<KontinuumNodeOptions> ServingNode(Core.Identity.Ed25519Identity identity, List<Multiaddr> listen) => options =>
    {
        options.Identity = identity;
        options.ListenAddresses = listen;
        options.ServeOwnContent = true;
    };

    /// <summary>The addresses a serving process listens on: the last run's, else any interface on a free port.</summary>
    internal static List<Multiaddr> SavedListenAddresses(string directory) =>
        ContentSenderFiles.LoadEndpoint(directory)?.Listen is { Count: > 0 } saved ? saved : [Multiaddr.Parse("/ip4/0.0.0.0/tcp/0")];

    /// <summary>
    /// Saves the node's endpoint, announces it (one line, with <paramref name="extra"/> fields), then offers every
    /// recorded offer and each new one at every rescan until <paramref name="cancellationToken"/> is cancelled; the
    /// last line says <c>stopped</c> and how many chunks were served.
    /// </summary>
    internal static async Task ServeOffersAsync(ParseResult parseResult, string directory, KontinuumNode node, TimeSpan interval, bool asJson,
        JsonObject? extra, CancellationToken cancellationToken)
    {
        var sender = node.ContentSender ?? throw new InvalidOperationException("the node does not serve its own content");
        ContentSenderFiles.SaveEndpoint(directory, node.PeerId, node.ListenAddresses);
        var announce = extra ?? [];
        announce["peerId"] = node.PeerId.ToString();
        announce["listenAddrs"] = CliOutput.Strings(node.ListenAddresses.Select(a => a.ToString()));
        if (asJson) CliOutput.WriteJsonLine(parseResult, announce);
        else CliOutput.WriteLine(parseResult, $"serving this device's contents as {node.PeerId} on {string.Join(", ", node.ListenAddresses)} (Ctrl+C stops)");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        using var timer = new PeriodicTimer(interval, node.Services.TimeProvider);
        try
        {
            do
            {
                await OfferNewAsync(parseResult, directory, sender, seen, asJson, cancellationToken).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // SIGINT or SIGTERM (or the end of the watch that serves): the normal way to stop.
        }
        var stopped = new JsonObject { ["stopped"] = true, ["chunksServed"] = sender.ChunksServed };
        if (asJson) CliOutput.WriteJsonLine(parseResult, stopped);
        else CliOutput.WriteLine(parseResult, $"stopped after serving {sender.ChunksServed} chunks");
    }

    // Offers each offer file not seen yet (a file changed or gone since its put is refused once, with the reason).
    private static async Task OfferNewAsync(ParseResult parseResult, string directory, ContentSenderServer sender, HashSet<string> seen, bool asJson,
        CancellationToken cancellationToken)
    {
        var files = ContentSenderFiles.ListOffers(directory).ToList();
        seen.IntersectWith(files);
        foreach (var file in files)
        {
            if (!seen.Add(file)) continue;
            var line = new JsonObject();
            try
            {
                var (path, reference) = ContentSenderFiles.ReadOffer(file);
                line["contentId"] = reference.Id.ToString();
                line["path"] = path;
                await sender.OfferAsync(path, reference, cancellationToken).ConfigureAwait(false);
                line["offered"] = true;
            }
            catch (Exception e) when (e is ContentException or IOException or InvalidDataException or UnauthorizedAccessException)
            {
                line["offered"] = false;
                line["error"] = e.Message;
            }
            if (asJson) CliOutput.WriteJsonLine(parseResult, line);
            else CliOutput.WriteLine(parseResult, line["offered"]!.GetValue<bool>() ? $"offering {line["contentId"]} from {line["path"]}" : $"not offering {file}: {line["error"]}");
        }
    }
}
