using System.Text.Json;
using KontinuumP2P.Cli.Commands;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// The steps the device-serves-its-contents process tests share: a two-device group on the cluster, the serving
/// process's "offered" line, chunk 3 damaged on every mailbox node, and a <c>content get</c> in its own process.
/// </summary>
internal static class ContentServingScenario
{
    /// <summary>Creates device A's group and joins device B; returns both group directories.</summary>
    public static async Task<(string A, string B)> CreateTwoDevicesAsync(CertifiedMailboxNodes cluster, string directory, CancellationToken ct)
    {
        var a = Path.Combine(directory, "device-a");
        var b = Path.Combine(directory, "device-b");
        var created = (await ContentCliTests.RunJsonAsync(GroupCommands.Create(), ["group", "create", "--network", cluster.Genesis, "--mailboxes", cluster.Slots,
            "--dir", a, "--bootstrap", cluster.Bootstrap, "--json"], ct))[0];
        await ContentCliTests.RunJsonAsync(GroupCommands.Create(), ["group", "join", created.GetProperty("invite").GetString()!, "--dir", b, "--network", cluster.Genesis,
            "--bootstrap", cluster.Bootstrap, "--json"], ct);
        return (a, b);
    }

    /// <summary>Completes with the first JSON line of <paramref name="server"/> that has an <c>offered</c> property.</summary>
    public static Task<JsonElement> FirstOfferAsync(NodeProcess server)
    {
        var offered = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.LineReceived += line =>
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.TryGetProperty("offered", out _)) offered.TrySetResult(document.RootElement.Clone());
        };
        return offered.Task;
    }

    /// <summary>Flips one byte of chunk 3 in every mailbox node's content store; returns how many copies were damaged.</summary>
    public static async Task<int> DamageChunkThreeEverywhereAsync(CertifiedMailboxNodes cluster, int byteIndex, CancellationToken ct)
    {
        var damaged = 0;
        foreach (var node in cluster.Nodes.Where(n => n.ContentServer is not null))
        {
            foreach (var chunk in Directory.GetFiles(node.ContentServer!.Store.Options.Directory, "3.c", SearchOption.AllDirectories))
            {
                var stored = await File.ReadAllBytesAsync(chunk, ct);
                stored[byteIndex] ^= 1;
                await File.WriteAllBytesAsync(chunk, stored, ct);
                damaged++;
            }
        }
        return damaged;
    }

    /// <summary>Runs <c>content get REFERENCE --group GROUP --out OUT</c> as a process; asserts exit 0 and returns its last JSON line.</summary>
    public static async Task<JsonElement> GetAsync(string reference, string group, string output, TimeSpan timeout, CancellationToken ct)
    {
        using var get = NodeProcess.Start("get", new Dictionary<string, string>(), "content", "get", reference, "--group", group, "--out", output, "--json");
        Assert.That(await get.WaitForExitAsync(timeout, ct), Is.Zero, get.Errors);
        using var document = JsonDocument.Parse(get.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        return document.RootElement.Clone();
    }
}
