using KontinuumP2P.Mailbox.Content;

namespace KontinuumP2P.Node.Configuration;

public static partial class NodeConfigResolver
{
    /// <summary>The content server's settings, or null when it is off (no mailbox server, or <c>content.enabled = false</c>).</summary>
    private static ContentServerOptions? ResolveContent(ContentSection section, bool mailbox, string? mailboxDatabase, string baseDirectory)
    {
        if (!section.Enabled || !mailbox) return null;
        if (section.MinChunkBytes is < ContentLimits.MinChunkSize or > ContentLimits.MaxChunkSize)
            throw new NodeConfigException("content.min_chunk_bytes", $"content.min_chunk_bytes: {section.MinChunkBytes} is outside {ContentLimits.MinChunkSize} to {ContentLimits.MaxChunkSize}");
        if (section.MaxChunkBytes < section.MinChunkBytes || section.MaxChunkBytes > ContentLimits.MaxChunkSize)
            throw new NodeConfigException("content.max_chunk_bytes", $"content.max_chunk_bytes: {section.MaxChunkBytes} is outside content.min_chunk_bytes ({section.MinChunkBytes}) to {ContentLimits.MaxChunkSize}");
        var maxContent = (long)section.MaxChunkBytes * ContentLimits.MaxChunkCount;
        if (section.MaxContentBytes <= 0 || section.MaxContentBytes > maxContent)
            throw new NodeConfigException("content.max_content_bytes",
                $"content.max_content_bytes: {section.MaxContentBytes} is outside 1 to {maxContent} ({ContentLimits.MaxChunkCount} chunks of content.max_chunk_bytes)");
        if (section.MaxStoreBytes < section.MaxContentBytes)
            throw new NodeConfigException("content.max_store_bytes", $"content.max_store_bytes: {section.MaxStoreBytes} is below content.max_content_bytes ({section.MaxContentBytes}); no content would fit");
        var directory = section.Directory.Length > 0
            ? Path.GetFullPath(section.Directory, baseDirectory)
            : Path.Combine(Path.GetDirectoryName(mailboxDatabase) ?? baseDirectory, "content");
        var options = new ContentServerOptions
        {
            Store = new ContentStoreOptions
            {
                Directory = directory,
                MaxStoreBytes = section.MaxStoreBytes,
                MaxContents = Int("content.max_contents", section.MaxContents),
                Ttl = ConfigDuration.Parse("content.ttl", section.Ttl, MinInterval, MaxRetention),
                Limits = new ContentLimits
                {
                    MaxContentBytes = section.MaxContentBytes,
                    MinChunkBytes = (int)section.MinChunkBytes,
                    MaxChunkBytes = (int)section.MaxChunkBytes,
                },
            },
            MaxSessions = Int("content.max_sessions", section.MaxSessions),
            MaxFetchChunks = Int("content.max_fetch_chunks", section.MaxFetchChunks),
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            var key = "content." + NodeConfigSchema.Naming.ConvertName(e.ParamName ?? "");
            throw new NodeConfigException(key, $"{key}: {e.Message}", e);
        }
        return options;
    }
}
