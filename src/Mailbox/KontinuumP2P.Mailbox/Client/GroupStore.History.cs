using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Mailbox.Client;

public sealed partial class GroupStore
{
    /// <summary>Most read keys a directory imports from invites.</summary>
    public const int MaxReadKeys = 64;

    private readonly List<(byte[] Raw, NSec.Cryptography.Key Key)> _readKeys = [];

    /// <summary>
    /// The blob (read) keys of every generation before the current one, plus those imported from an invite, oldest
    /// first and without repeats: what an invite to the current generation hands on so a device joining with a new
    /// directory can open the history re-pushed at rotations.
    /// </summary>
    public IReadOnlyList<byte[]> HistoryKeys
    {
        get
        {
            lock (_lock)
            {
                var keys = new List<byte[]>();
                foreach (var (raw, _) in _readKeys) Add(keys, raw);
                foreach (var generation in _generations.Take(_generations.Count - 1)) Add(keys, generation.Keys.BlobKey.ToArray());
                return keys;
            }
        }
    }

    /// <summary>Keeps read keys of earlier generations (from an invite) so blobs sealed under them can be opened.</summary>
    /// <exception cref="ArgumentException">A key that is not 32 bytes, or more than <see cref="MaxReadKeys"/> in all.</exception>
    public void ImportReadKeys(IEnumerable<byte[]> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var list = keys.ToList();
        if (list.Any(k => k.Length != GroupKeys.KeyLength)) throw new ArgumentException($"a read key is {GroupKeys.KeyLength} bytes", nameof(keys));
        lock (_lock)
        {
            var fresh = list.Where(k => !_readKeys.Any(r => r.Raw.AsSpan().SequenceEqual(k))).DistinctBy(Convert.ToHexString).ToList();
            if (_readKeys.Count + fresh.Count > MaxReadKeys) throw new ArgumentException($"a group directory keeps at most {MaxReadKeys} read keys", nameof(keys));
            using var tx = _db.BeginTransaction();
            foreach (var key in fresh)
            {
                using var command = _db.CreateCommand();
                command.Transaction = tx;
                command.CommandText = "INSERT OR IGNORE INTO read_keys (key) VALUES ($k)";
                command.Parameters.AddWithValue("$k", key);
                command.ExecuteNonQuery();
            }
            tx.Commit();
            foreach (var key in fresh) _readKeys.Add((key, BlobCipher.ImportKey(key)));
        }
    }

    /// <summary>Opens a sealed blob with the imported read keys (after the generations' own keys failed); null if none opens it.</summary>
    internal byte[]? OpenWithReadKeys(ReadOnlySpan<byte> sealedBlob)
    {
        List<NSec.Cryptography.Key> keys;
        lock (_lock) keys = [.. _readKeys.Select(r => r.Key)];
        for (var i = keys.Count - 1; i >= 0; i--)
        {
            try
            {
                return BlobCipher.Open(keys[i], sealedBlob);
            }
            catch (BlobFormatException)
            {
                // Try the next key.
            }
        }
        return null;
    }

    private void LoadReadKeys()
    {
        Execute(null, "CREATE TABLE IF NOT EXISTS read_keys (seq INTEGER PRIMARY KEY AUTOINCREMENT, key BLOB NOT NULL UNIQUE)");
        using var command = _db.CreateCommand();
        command.CommandText = "SELECT key FROM read_keys ORDER BY seq";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var raw = (byte[])reader[0];
            _readKeys.Add((raw, BlobCipher.ImportKey(raw)));
        }
    }

    private void DisposeReadKeys()
    {
        foreach (var (_, key) in _readKeys) key.Dispose();
        _readKeys.Clear();
    }

    private static void Add(List<byte[]> keys, byte[] key)
    {
        if (!keys.Any(k => k.AsSpan().SequenceEqual(key))) keys.Add(key);
    }
}
