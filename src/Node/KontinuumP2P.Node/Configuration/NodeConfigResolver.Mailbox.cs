using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Node.Configuration;

public static partial class NodeConfigResolver
{
    private static readonly TimeSpan MaxRetention = TimeSpan.FromDays(3650);

    private static MailboxServerOptions? ResolveMailbox(MailboxSection section, string baseDirectory, string dataDirectory)
    {
        if (!section.Enabled) return null;
        var role = section.Role switch
        {
            "ephemeral" => MailboxRole.Ephemeral,
            "replica" => MailboxRole.Replica,
            var other => throw new NodeConfigException("mailbox.role", $"mailbox.role: '{other}' is not one of ephemeral, replica"),
        };
        var options = new MailboxServerOptions
        {
            Store = new MailboxStoreOptions
            {
                DatabasePath = section.Database.Length > 0 ? Path.GetFullPath(section.Database, baseDirectory) : Path.Combine(dataDirectory, "mailbox.db"),
                Role = role,
                MaxBlobBytes = Int("mailbox.max_blob_bytes", section.MaxBlobBytes),
                MaxMailboxBytes = section.MaxMailboxBytes,
                MaxMailboxBlobs = section.MaxMailboxBlobs,
                MaxMailboxes = Int("mailbox.max_mailboxes", section.MaxMailboxes),
                MaxDbBytes = section.MaxDbBytes,
                DefaultTtl = ConfigDuration.Parse("mailbox.default_ttl", section.DefaultTtl, MinInterval, MaxRetention),
                MaxTtl = ConfigDuration.Parse("mailbox.max_ttl", section.MaxTtl, MinInterval, MaxRetention),
                IdleExpiry = ConfigDuration.Parse("mailbox.idle_expiry", section.IdleExpiry, MinInterval, MaxRetention),
            },
            PushesPerMinute = Int("mailbox.pushes_per_minute", section.PushesPerMinute),
            RequestsPerSecond = Int("mailbox.requests_per_second", section.RequestsPerSecond),
            MaxSessions = Int("mailbox.max_sessions", section.MaxSessions),
            MaxPullBlobs = Int("mailbox.max_pull_blobs", section.MaxPullBlobs),
            MaxPullBytes = Int("mailbox.max_pull_bytes", section.MaxPullBytes),
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            var key = "mailbox." + NodeConfigSchema.Naming.ConvertName(e.ParamName ?? "");
            throw new NodeConfigException(key, $"{key}: {e.Message}", e);
        }
        return options;
    }

    private static int Int(string key, long value) =>
        value is >= 0 and <= int.MaxValue ? (int)value : throw new NodeConfigException(key, $"{key}: {value} is out of range");
}
