using KontinuumP2P.Archive.Holders;

namespace KontinuumP2P.Node.Configuration;

public static partial class NodeConfigResolver
{
    private static ArchiveHolderOptions? ResolveArchiveHolder(ArchiveHolderSection section, string baseDirectory, string dataDirectory)
    {
        if (!section.Enabled) return null;
        var options = new ArchiveHolderOptions
        {
            Directory = section.Directory.Length > 0 ? Path.GetFullPath(section.Directory, baseDirectory) : Path.Combine(dataDirectory, "archive-holder"),
            QuotaBytes = section.Quota,
            MaxObjectBytes = section.MaxObject,
            AnnounceInterval = ConfigDuration.Parse("archive_holder.announce_interval", section.AnnounceInterval, MinInterval, TimeSpan.FromDays(1)),
        };
        if (section.Quota < 1) throw new NodeConfigException("archive_holder.quota", $"archive_holder.quota: {section.Quota} is not a positive number of bytes");
        if (section.MaxObject is < 1024 or > Archive.Packs.PackFormat.MaxPackBytes)
            throw new NodeConfigException("archive_holder.max_object", $"archive_holder.max_object: {section.MaxObject} is outside 1024 to {Archive.Packs.PackFormat.MaxPackBytes} bytes");
        return options;
    }
}
