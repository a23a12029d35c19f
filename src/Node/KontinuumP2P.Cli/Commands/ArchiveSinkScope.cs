using System.CommandLine;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// Opens the sink an <c>archive</c> command names for the length of one body: <c>dir:</c> and <c>s3://</c> directly,
/// <c>peers</c> through a DHT client node joined to the network (holders found by provider records; it needs no
/// certificate, since fetching, testing and listing are open to anyone).
/// </summary>
internal static class ArchiveSinkScope
{
    public static async Task<int> RunAsync(ParseResult pr, string text, string? network, IReadOnlyList<string>? bootstrap,
        Func<IArchiveSink, CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        if (text != "peers")
        {
            IArchiveSink sink;
            try
            {
                sink = ArchiveSinks.Open(text);
            }
            catch (Exception e) when (e is FormatException or UriFormatException or NotSupportedException or IOException or UnauthorizedAccessException)
            {
                return CliOutput.Fail(pr, $"--sink: {e.Message}", ExitCodes.InvalidInput);
            }
            await using (sink.ConfigureAwait(false)) return await body(sink, cancellationToken).ConfigureAwait(false);
        }
        // Never join a network by default: the caller names it (verify: --network; restore: the group's network.json).
        if (network is null) return CliOutput.Fail(pr, "--sink peers: name the network to join with --network (a name or genesis file) and --bootstrap", ExitCodes.InvalidInput);
        if (GroupConnection.Validate(network, bootstrap ?? [], out var definition, out var addresses) is { } problem)
            return CliOutput.Fail(pr, $"--sink peers: {problem}", ExitCodes.InvalidInput);
        using var identity = Ed25519Identity.Generate();
        try
        {
            var node = await GroupConnection.StartClientNodeAsync(identity, definition!, addresses, cancellationToken).ConfigureAwait(false);
            await using (node.ConfigureAwait(false))
            {
                if (node.Dht.RoutingTableSize == 0) return CliOutput.Fail(pr, $"--sink peers: no bootstrap peer of network '{definition!.Name}' answered");
                await using var sink = node.OpenPeersArchiveSink();
                return await body(sink, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is TimeoutException or InvalidDataException)
        {
            return CliOutput.Fail(pr, e.Message);
        }
    }
}
