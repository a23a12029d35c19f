using System.Security.Cryptography;
using KontinuumP2P.Certs.CrashHost;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Certs.Tests.Crash;

/// <summary>
/// SIGKILLs a child that rewrites the CRL state file and writes key files in a loop (tests/KontinuumP2P.Certs.CrashHost),
/// 20 times at whatever point each loop has reached, and checks what a restart would load.
/// </summary>
[TestFixture]
[Category("Slow")]
public sealed class TrustFileCrashTests
{
    private const int Kills = 20;

    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-trustcrash-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    [CancelAfter(240_000)]
    public async Task After_every_kill_the_crl_state_is_the_last_saved_or_the_next_complete_one_and_every_key_file_is_whole(CancellationToken cancellationToken)
    {
        var stateFile = Path.Combine(_dir, "data", "crl-state.json");
        var keys = Path.Combine(_dir, "keys");
        var random = new Random(20261205);
        ulong nextCrl = 1, nextKey = 1;
        string? nodeId = null;
        var acknowledged = new Dictionary<ulong, string>();
        var inFlightCrl = 0;
        for (var kill = 0; kill < Kills; kill++)
        {
            using var child = CrashChild.Start("KontinuumP2P.Certs.CrashHost", stateFile, keys, $"{nextCrl}", $"{nextKey}");
            var lines = new List<string>();
            // Let each loop complete a random number of writes, then kill wherever the loops are.
            var wantSaves = random.Next(1, 6);
            var wantKeys = random.Next(1, 6);
            while (lines.Count(l => l.StartsWith("SAVED ", StringComparison.Ordinal)) < wantSaves
                   || lines.Count(l => l.StartsWith("WROTE ", StringComparison.Ordinal)) < wantKeys)
                lines.Add(await child.ReadLineAsync(cancellationToken) ?? throw new InvalidOperationException("the child ended its output"));
            lines.AddRange(await child.KillAndDrainAsync(cancellationToken));

            // The node key never changes identity across restarts.
            var node = lines.Single(l => l.StartsWith("NODE ", StringComparison.Ordinal))["NODE ".Length..];
            nodeId ??= node;
            Assert.That(node, Is.EqualTo(nodeId), $"kill {kill}: node.key changed identity");

            // CRL state: the last acknowledged save, or the one in flight, complete.
            var lastSaved = lines.Where(l => l.StartsWith("SAVED ", StringComparison.Ordinal)).Select(l => ulong.Parse(l["SAVED ".Length..])).Max();
            var state = new CrlStateFile(stateFile).Load();
            Assert.That(state, Is.Not.Null);
            Assert.That(state!.CrlNumber, Is.EqualTo(lastSaved).Or.EqualTo(lastSaved + 1), $"kill {kill}: state {state.CrlNumber}, last acknowledged {lastSaved}");
            Assert.That(state.EncodedCrl, Is.EqualTo(Program.CrlPayload(state.CrlNumber)), $"kill {kill}: state {state.CrlNumber} is not complete");
            Assert.That(state.BodySha256, Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(state.EncodedCrl))));
            if (state.CrlNumber > lastSaved) inFlightCrl++;
            nextCrl = state.CrlNumber + 1;
            // One temporary file at most, however many crashes.
            Assert.That(Directory.GetFiles(Path.GetDirectoryName(stateFile)!).Select(Path.GetFileName),
                Is.SubsetOf(new[] { "crl-state.json", ".crl-state.json.tmp" }), $"kill {kill}: stray files beside the state");

            // Key files: every acknowledged key loads as the key reported; any other key file is whole too.
            foreach (var wrote in lines.Where(l => l.StartsWith("WROTE ", StringComparison.Ordinal)).Select(l => l.Split(' ')))
                acknowledged[ulong.Parse(wrote[1])] = wrote[2];
            var present = Directory.GetFiles(keys, "key-*").Select(f => ulong.Parse(Path.GetFileName(f)["key-".Length..])).ToList();
            foreach (var n in present)
            {
                using var key = KeyFile.Decode(KeyFile.ReadBounded(Path.Combine(keys, $"key-{n}"), KeyFile.MaxFileLength), KeyFileKind.Node, null);
                if (acknowledged.TryGetValue(n, out var id)) Assert.That(key.PeerId.ToString(), Is.EqualTo(id), $"kill {kill}: key-{n}");
            }
            Assert.That(acknowledged.Keys, Is.SubsetOf(present), $"kill {kill}: an acknowledged key file is missing");
            nextKey = present.Max() + 1;
        }
        TestContext.Out.WriteLine($"{Kills} kills: CRL state reached {nextCrl - 1} ({inFlightCrl} kills landed after an unacknowledged save completed), {nextKey - 1} key files, node id {nodeId} throughout");
        if (!OperatingSystem.IsWindows())
            Assert.That(File.GetUnixFileMode(keys), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
    }
}
