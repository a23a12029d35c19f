using KontinuumP2P.Archive.Holders;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Replication;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Devnet;

/// <summary>
/// The devnet's archive: a pusher on the replica mailbox node (node 0) packing to a <c>dir:</c> sink under the devnet
/// folder and to the <c>peers</c> sink, whose holders are every other node, each on a provider of its own (the
/// mailbox nodes keep their label, the others get <c>devnet-hN</c>). Five nodes give four holders on four providers:
/// R = 3 with one spare, so a holder stopped by <c>--chaos</c> is re-replicated. With fewer nodes R is the number of
/// holders (none: no <c>peers</c> sink).
/// </summary>
internal static class DevnetArchive
{
    /// <summary>Holders on distinct providers each pack goes to with <paramref name="nodes"/> nodes.</summary>
    public static int Replicas(int nodes) => Math.Clamp(nodes - 1, 0, 3);

    /// <summary>Whether node <paramref name="index"/> runs an archive holder.</summary>
    public static bool IsHolder(int index) => index > 0;

    /// <summary>The provider label of node <paramref name="index"/>'s certificate when it is a holder but no mailbox node.</summary>
    public static string HolderProvider(int index) => $"devnet-h{index}";

    /// <summary>
    /// Node <paramref name="index"/>'s certificate: a mailbox node (<paramref name="mailboxProvider"/> set) carries
    /// <c>mailbox</c>, a holder <c>archive</c> and a provider label (its mailbox label, else <c>devnet-hN</c>).
    /// </summary>
    public static KontinuumP2P.Certs.Certificates.Certificate Certificate(DevnetAuthority authority, KontinuumP2P.Core.Identity.Ed25519Identity key, TimeSpan validity,
        int index, string? mailboxProvider)
    {
        var capabilities = new List<string> { "dht" };
        if (mailboxProvider is not null) capabilities.Add("mailbox");
        if (IsHolder(index)) capabilities.Add(ArchiveHolderProtocol.HolderCapability);
        if (capabilities.Count == 1) return authority.IssueCertificate(key, validity);
        return authority.IssueCertificate(key, validity, capabilities, mailboxProvider ?? HolderProvider(index));
    }

    /// <summary>Short intervals so that packs appear within the first rounds.</summary>
    public static NodeArchiveOptions Options(string directory, int nodes) => new()
    {
        Sinks = Replicas(nodes) > 0 ? ["dir:" + Path.Combine(directory, "archive"), "peers"] : ["dir:" + Path.Combine(directory, "archive")],
        Peers = Replicas(nodes) > 0 ? new PeersSinkOptions { Replicas = Replicas(nodes), RequestTimeout = TimeSpan.FromSeconds(10) } : null,
        Replication = new HolderReplicationOptions { Interval = TimeSpan.FromSeconds(30), ObjectsPerRound = 64 },
        StatePath = Path.Combine(directory, "node-0", "archive-state.db"),
        Pusher = new ArchivePusherOptions { MaxPackAge = TimeSpan.FromSeconds(5), PollInterval = TimeSpan.FromSeconds(1) },
    };

    /// <summary>A holder under the node's folder that announces often (a devnet forms within seconds).</summary>
    public static ArchiveHolderOptions HolderOptions(string nodeDirectory) => new()
    {
        Directory = Path.Combine(nodeDirectory, "archive-holder"),
        QuotaBytes = 4L << 30,
        AnnounceInterval = TimeSpan.FromSeconds(10),
    };

    /// <summary>The node.toml sections <c>devnet init</c> writes for node <paramref name="index"/> of <paramref name="nodes"/>.</summary>
    public static string Toml(int index, int nodes, string directory)
    {
        if (index == 0)
        {
            var sinks = Replicas(nodes) > 0 ? $"[\"dir:{Escape(Path.Combine(directory, "archive"))}\", \"peers\"]" : $"[\"dir:{Escape(Path.Combine(directory, "archive"))}\"]";
            return $"\n[archive]\nenabled = true\nsinks = {sinks}\ninterval = \"5s\"\npoll_interval = \"1s\"\nreplication_interval = \"30s\"\n"
                + (Replicas(nodes) is > 0 and < 3 ? $"# {Replicas(nodes)} holders only: packs go to that many providers.\npeers_replicas = {Replicas(nodes)}\n" : "");
        }
        return IsHolder(index) ? "\n[archive_holder]\nenabled = true\nannounce_interval = \"10s\"\n" : "";
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);

    /// <summary>Every holder's provider and bytes held.</summary>
    public static IReadOnlyList<DevnetHolderStatus> Holders(IReadOnlyList<KontinuumNode> nodes)
    {
        var holders = new List<DevnetHolderStatus>();
        for (var i = 0; i < nodes.Count; i++)
        {
            if (nodes[i].ArchiveHolder is { } holder)
                holders.Add(new DevnetHolderStatus(i, nodes[i].Options.Certificate?.Body.Provider ?? "", holder.UsedBytes));
        }
        return holders;
    }

    /// <summary>The pusher's progress and its lag behind the replica (cursors not yet in a verified pack).</summary>
    public static async Task<DevnetArchiveStatus?> StatusAsync(KontinuumNode node, string directory, CancellationToken cancellationToken)
    {
        if (node.ArchiveStatus is not { } status || node.MailboxServer is not { } server) return null;
        ulong lag = 0, archived = 0;
        foreach (var mailbox in await server.Store.ListArchivedMailboxesAsync(cancellationToken).ConfigureAwait(false))
        {
            var upTo = status.ArchivedUpTo.GetValueOrDefault(Convert.ToHexStringLower(mailbox.MailboxId.Span));
            archived += upTo;
            lag += mailbox.MaxCursor > upTo ? mailbox.MaxCursor - upTo : 0;
        }
        var age = status.LastPackAt is { } at ? node.Services.TimeProvider.GetUtcNow() - at : (TimeSpan?)null;
        return new DevnetArchiveStatus(0, Path.Combine(directory, "archive"), status.Packs, status.Blobs, status.Bytes, archived, lag, age);
    }
}

/// <summary>The devnet's archive pusher.</summary>
/// <param name="Index">The node it runs on (the replica mailbox node).</param>
/// <param name="Sink">The <c>dir:</c> sink's folder (try <c>kontinuum archive verify --sink dir:PATH</c>).</param>
/// <param name="Packs">Packs written and verified.</param>
/// <param name="Blobs">Blobs in them.</param>
/// <param name="Bytes">Pack bytes.</param>
/// <param name="ArchivedUpTo">archived_up_to summed over the replica's mailboxes.</param>
/// <param name="Lag">Blobs on the replica not yet in a verified pack.</param>
/// <param name="SinceLastPack">Time since the last pack, if any.</param>
public sealed record DevnetArchiveStatus(int Index, string Sink, long Packs, long Blobs, long Bytes, ulong ArchivedUpTo, ulong Lag, TimeSpan? SinceLastPack);

/// <summary>One archive holder of the devnet.</summary>
/// <param name="Index">Node index.</param>
/// <param name="Provider">The provider label of its certificate (each pack sits on holders of distinct providers).</param>
/// <param name="Bytes">Bytes of packs, manifests and contents it holds.</param>
public sealed record DevnetHolderStatus(int Index, string Provider, long Bytes);
