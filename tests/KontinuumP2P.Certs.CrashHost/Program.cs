using System.Security.Cryptography;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Certs.CrashHost;

/// <summary>
/// <c>KontinuumP2P.Certs.CrashHost &lt;crl-state file&gt; &lt;key folder&gt; &lt;first crl&gt; &lt;first key&gt;</c>
/// writes trust files in two endless loops until killed, reporting each completed write on stdout:
/// <list type="bullet">
/// <item>saves CRL state n = first crl, +1, … (each a different size, see <see cref="CrlPayload"/>) and prints
/// <c>SAVED n</c> after each save returned;</item>
/// <item>loads <c>node.key</c> in the key folder (creating it on the first run) and prints <c>NODE &lt;peer id&gt;</c>,
/// then writes fresh keys <c>key-n</c> for n = first key, +1, … and prints <c>WROTE n &lt;peer id&gt;</c> after each.</item>
/// </list>
/// </summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        if (args.Length != 4 || !ulong.TryParse(args[2], out var firstCrl) || !ulong.TryParse(args[3], out var firstKey))
        {
            Console.Error.WriteLine("usage: KontinuumP2P.Certs.CrashHost <crl-state file> <key folder> <first crl> <first key>");
            return 2;
        }
        var output = TextWriter.Synchronized(new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true });
        var folder = args[1];
        DurableFiles.CreatePrivateDirectory(folder);
        var nodeKey = Path.Combine(folder, "node.key");
        if (!File.Exists(nodeKey))
        {
            using var created = Ed25519Identity.Generate();
            KeyFile.WriteSecret(nodeKey, KeyFile.EncodePlain(created, KeyFileKind.Node));
        }
        using (var node = KeyFile.Decode(KeyFile.ReadBounded(nodeKey, KeyFile.MaxFileLength), KeyFileKind.Node, null))
            output.WriteLine($"NODE {node.PeerId}");

        // Both loops run until the process is killed; the test never lets it exit on its own.
        var keys = new Thread(() =>
        {
            for (var n = firstKey; ; n++)
            {
                using var key = Ed25519Identity.Generate();
                KeyFile.WriteSecret(Path.Combine(folder, $"key-{n}"), KeyFile.EncodePlain(key, KeyFileKind.Node));
                output.WriteLine($"WROTE {n} {key.PeerId}");
            }
        }) { IsBackground = true };
        keys.Start();
        var store = new CrlStateFile(args[0]);
        for (var n = firstCrl; ; n++)
        {
            var crl = CrlPayload(n);
            store.Save(new CrlState(n, Convert.ToHexStringLower(SHA256.HashData(crl)), crl));
            output.WriteLine($"SAVED {n}");
        }
    }

    /// <summary>
    /// The stand-in CRL bytes of state <paramref name="n"/>: 1–160 KiB (so a save spans many writes), every byte
    /// derived from n, so a reader can tell a complete state n from a mix of two.
    /// </summary>
    public static byte[] CrlPayload(ulong n)
    {
        var bytes = new byte[1024 + (int)(n * 7919 % (159 * 1024))];
        for (var i = 0; i < bytes.Length; i++) bytes[i] = (byte)(n * 31 + (ulong)i);
        return bytes;
    }
}
