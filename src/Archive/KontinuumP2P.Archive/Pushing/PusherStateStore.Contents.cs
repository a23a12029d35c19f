namespace KontinuumP2P.Archive.Pushing;

/// <summary>A content the pusher archived (and read back verified) to every sink.</summary>
/// <param name="ContentId">The content id's 32-byte digest.</param>
/// <param name="Bytes">Size of the archived object.</param>
public sealed record ArchivedContent(byte[] ContentId, long Bytes);

public sealed partial class PusherStateStore
{
    /// <summary>Whether this content is recorded as archived.</summary>
    public bool HasContent(ReadOnlySpan<byte> contentId)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM contents WHERE content_id = $c";
        command.Parameters.AddWithValue("$c", contentId.ToArray());
        return command.ExecuteScalar() is not null;
    }

    /// <summary>Records a content as archived (once it was read back verified from every sink).</summary>
    public void AddContent(ArchivedContent content)
    {
        ArgumentNullException.ThrowIfNull(content);
        using var command = _connection.CreateCommand();
        command.CommandText = "INSERT OR IGNORE INTO contents (content_id, bytes) VALUES ($c, $b)";
        command.Parameters.AddWithValue("$c", content.ContentId);
        command.Parameters.AddWithValue("$b", content.Bytes);
        command.ExecuteNonQuery();
    }

    /// <summary>Every content archived.</summary>
    public IReadOnlyList<ArchivedContent> Contents()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT content_id, bytes FROM contents ORDER BY content_id";
        using var reader = command.ExecuteReader();
        var result = new List<ArchivedContent>();
        while (reader.Read()) result.Add(new ArchivedContent((byte[])reader[0], reader.GetInt64(1)));
        return result;
    }
}
