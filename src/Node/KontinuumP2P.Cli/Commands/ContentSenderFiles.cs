using System.Net;
using System.Net.NetworkInformation;
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

    /// <summary>True when serving was set up in this group directory (a <c>content serve</c> or a serving watch ran).</summary>
    public static bool ServingSetUp(string groupDirectory) => File.Exists(Path.Combine(groupDirectory, Folder, "endpoint.json"));

    /// <summary>
    /// Takes the group directory's serving lock (<c>content-sender/serve.lock</c>, held while the process lives): one
    /// process at a time serves the device's contents, since they all listen on the saved addresses. Null when another
    /// process holds it.
    /// </summary>
    public static FileStream? TryLockServing(string groupDirectory)
    {
        var path = Path.Combine(groupDirectory, Folder, "serve.lock");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try
        {
            // Not DeleteOnClose: a process that fails to take the lock would delete the holder's file on its way out.
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The refusal when <see cref="TryLockServing"/> found the lock taken.</summary>
    public const string AlreadyServing = "another process (`content serve` or `mailbox watch --serve-content`) already serves this device's contents from this group directory";

    public static void SaveEndpoint(string groupDirectory, PeerId peer, IReadOnlyList<Multiaddr> addresses)
    {
        var json = new JsonObject
        {
            ["peerId"] = peer.ToString(),
            // References name these, so a wildcard listen address becomes the interfaces' addresses: a receiver on
            // another machine cannot dial 0.0.0.0.
            ["addresses"] = Output.CliOutput.Strings(Dialable(addresses).Take(ContentReference.MaxSenderAddresses).Select(a => a.ToString())),
            ["listen"] = Output.CliOutput.Strings(addresses.Select(a => a.ToString())),
        };
        var path = Path.Combine(groupDirectory, Folder, "endpoint.json");
        File.WriteAllText(path + ".tmp", json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>
    /// <paramref name="addresses"/> with every unspecified IP (0.0.0.0, ::) replaced by the unicast addresses of the
    /// interfaces that are up (IPv6 link-local left out: it needs a zone a remote cannot know), loopback last.
    /// </summary>
    internal static IEnumerable<Multiaddr> Dialable(IReadOnlyList<Multiaddr> addresses)
    {
        List<IPAddress>? local = null;
        foreach (var address in addresses)
        {
            var first = address.Components.Count > 0 ? address.Components[0] : null;
            if (first is null || first.Protocol.Kind is not (ValueKind.IPv4 or ValueKind.IPv6))
            {
                yield return address;
                continue;
            }
            var ip = first.AsIPAddress();
            if (!ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any))
            {
                yield return address;
                continue;
            }
            local ??= [.. NetworkInterface.GetAllNetworkInterfaces()
                .Where(n => n.OperationalStatus is OperationalStatus.Up or OperationalStatus.Unknown)
                .SelectMany(n => n.GetIPProperties().UnicastAddresses.Select(u => u.Address))
                .Where(a => !a.IsIPv6LinkLocal)
                .OrderBy(IPAddress.IsLoopback)];
            var rest = string.Concat(address.Components.Skip(1).Select(c => c.ToString()));
            foreach (var candidate in local.Where(a => a.AddressFamily == ip.AddressFamily))
                yield return Multiaddr.Parse(Multiaddr.FromTcpEndPoint(new IPEndPoint(candidate, 0)).Components[0] + rest);
        }
    }

    /// <summary>The endpoint a previous <c>content serve</c> saved, or null when serving was never set up here.</summary>
    public static (PeerId Peer, List<Multiaddr> Addresses, List<Multiaddr> Listen)? LoadEndpoint(string groupDirectory)
    {
        var path = Path.Combine(groupDirectory, Folder, "endpoint.json");
        if (!File.Exists(path)) return null;
        try
        {
            var json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new FormatException("not a JSON object");
            var peer = json["peerId"]?.GetValue<string>() ?? throw new FormatException("no peerId");
            List<Multiaddr> Read(string key) =>
                [.. json[key]?.AsArray().Select(a => Multiaddr.Parse(a?.GetValue<string>() ?? throw new FormatException("an empty address"))) ?? []];
            var advertised = Read("addresses");
            var listen = Read("listen");
            return (PeerId.Parse(peer), advertised, listen.Count > 0 ? listen : advertised);
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
