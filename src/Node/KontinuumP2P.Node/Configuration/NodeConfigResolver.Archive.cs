using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Replication;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Node.Configuration;

public static partial class NodeConfigResolver
{
    private static NodeArchiveOptions? ResolveArchive(ArchiveSection section, string baseDirectory, string dataDirectory)
    {
        if (!section.Enabled) return null;
        var sinks = section.Sinks.Select(s => s.StartsWith("dir:", StringComparison.Ordinal) && s.Length > 4
            ? "dir:" + Path.GetFullPath(s[4..], baseDirectory)
            : s).ToList();
        const long minPack = 1024, maxPack = 128L << 20;
        if (section.PackSize is < minPack or > maxPack)
            throw new NodeConfigException("archive.pack_size", $"archive.pack_size: {section.PackSize} is outside {minPack} to {maxPack} bytes");
        if (section.ReplicationObjects is < 1 or > 100_000)
            throw new NodeConfigException("archive.replication_objects", $"archive.replication_objects: {section.ReplicationObjects} is outside 1 to 100000");
        if (section.PeersReplicas is < 1 or > 16)
            throw new NodeConfigException("archive.peers_replicas", $"archive.peers_replicas: {section.PeersReplicas} is outside 1 to 16");
        return new NodeArchiveOptions
        {
            Sinks = sinks,
            StatePath = section.StateFile.Length > 0 ? Path.GetFullPath(section.StateFile, baseDirectory) : Path.Combine(dataDirectory, "archive-state.db"),
            Mailboxes = [.. section.Mailboxes],
            Peers = new KontinuumP2P.Archive.Sinks.PeersSinkOptions { Replicas = (int)section.PeersReplicas },
            Replication = new HolderReplicationOptions
            {
                Interval = ConfigDuration.Parse("archive.replication_interval", section.ReplicationInterval, MinInterval, TimeSpan.FromDays(1)),
                ObjectsPerRound = (int)section.ReplicationObjects,
            },
            Pusher = new ArchivePusherOptions
            {
                TargetPackBytes = section.PackSize,
                MaxPackAge = ConfigDuration.Parse("archive.interval", section.Interval, MinInterval, TimeSpan.FromDays(1)),
                PollInterval = ConfigDuration.Parse("archive.poll_interval", section.PollInterval, MinInterval, TimeSpan.FromHours(1)),
            },
        };
    }
}
