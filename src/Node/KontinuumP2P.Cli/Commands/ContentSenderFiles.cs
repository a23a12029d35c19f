using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Content;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// The device's own content server (<c>content serve</c>) in the group directory, folder <c>content-sender/</c>:
/// <c>identity.key</c> (the serving node's key, owner-only, so its peer id outlives one run), <c>endpoint.json</c>
/// (that peer id and the addresses it last listened on; nothing secret) and <c>offers/</c> (one owner-only file per
/// content put since serving was set up: the source path and the reference, which holds the key). A <c>put</c> in a
/// group directory that has an endpoint names the sender in its reference and records an offer; at most
/// <see cref="MaxOffers"/> offers are kept (the oldest are deleted), as many as the server offers at once.
/// </summary>
internal static class ContentSenderFiles
{
    public const int MaxOffers = 64;
    private const string Folder = "content-sender";
    private const string OfferExtension = ".offer";

    public static string OffersFolder(string groupDirectory) => Path.Combine(groupDirectory, Folder, "offers");

    /// <summary>The serving node's identity, created (owner-only) on first use.</summary>
    public static Ed25519Identity LoadOrCreateIdentity(string groupDirectory)
    {
        var path = Path.Combine(groupDirectory, Folder, "identity.key");
        if (File.Exists(path)) return KeyFile.Decode(KeyFile.ReadBounded(path, KeyFile.MaxFileLength), KeyFileKind.Node, passphrase: null);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var identity = Ed25519Identity.Generate();
        KeyFile.WriteSecret(path, KeyFile.EncodePlain(identity, KeyFileKind.Node));
        return identity;
    }

    public static void SaveEndpoint(string groupDirectory, PeerId peer, IReadOnlyList<Multiaddr> addresses)
    {
        var json = new JsonObject
        {
            ["peerId"] = peer.ToString(),
            ["addresses"] = Output.CliOutput.Strings(addresses.Take(ContentReference.MaxSenderAddresses).Select(a => a.ToString())),
        };
        var path = Path.Combine(groupDirectory, Folder, "endpoint.json");
        File.WriteAllText(path + ".tmp", json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The endpoint a previous <c>content serve</c> saved, or null when serving was never set up here.</summary>
    public static (PeerId Peer, List<Multiaddr> Addresses)? LoadEndpoint(string groupDirectory)
    {
        var path = Path.Combine(groupDirectory, Folder, "endpoint.json");
        if (!File.Exists(path)) return null;
        try
        {
            var json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new FormatException("not a JSON object");
            var peer = json["peerId"]?.GetValue<string>() ?? throw new FormatException("no peerId");
            return (PeerId.Parse(peer),
                [.. json["addresses"]?.AsArray().Select(a => Multiaddr.Parse(a?.GetValue<string>() ?? throw new FormatException("an empty address"))) ?? []]);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not a valid sender endpoint ({e.Message}); delete it and run `content serve` again", e);
        }
    }

    /// <summary>Records that <paramref name="file"/> is the content of <paramref name="reference"/> (owner-only), keeping the newest offers only.</summary>
    public static void SaveOffer(string groupDirectory, FileInfo file, ContentReference reference)
    {
        var folder = OffersFolder(groupDirectory);
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, reference.Id + OfferExtension);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(path + ".tmp", options))
        {
            stream.Write(Encoding.UTF8.GetBytes($"{file.FullName}\n{reference.ToText()}\n"));
            stream.Flush(flushToDisk: true);
        }
        File.Move(path + ".tmp", path, overwrite: true);
        foreach (var old in ListOffers(groupDirectory).SkipLast(MaxOffers)) File.Delete(old);
    }

    /// <summary>Offer files, oldest first.</summary>
    public static IEnumerable<string> ListOffers(string groupDirectory)
    {
        var folder = OffersFolder(groupDirectory);
        return Directory.Exists(folder)
            ? new DirectoryInfo(folder).GetFiles("*" + OfferExtension).OrderBy(f => f.LastWriteTimeUtc).ThenBy(f => f.Name, StringComparer.Ordinal).Select(f => f.FullName)
            : [];
    }

    /// <summary>Reads one offer file: the source path and the reference.</summary>
    /// <exception cref="InvalidDataException">The file is not an offer.</exception>
    public static (string Path, ContentReference Reference) ReadOffer(string offerFile)
    {
        var lines = File.ReadAllLines(offerFile);
        try
        {
            if (lines.Length == 2) return (lines[0], ContentReference.ParseText(lines[1]));
        }
        catch (ContentException e)
        {
            throw new InvalidDataException($"{offerFile}: {e.Message}", e);
        }
        throw new InvalidDataException($"{offerFile}: not an offer (two lines: path, reference)");
    }
}
