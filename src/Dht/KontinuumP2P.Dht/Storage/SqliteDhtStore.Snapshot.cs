using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Routing;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Dht.Storage;

/// <content>The routing-table snapshot: saved on stop, loaded on start.</content>
public sealed partial class SqliteDhtStore
{
    /// <inheritdoc />
    public async ValueTask SaveRoutingSnapshotAsync(IReadOnlyList<RoutingTableEntry> entries, CancellationToken cancellationToken) =>
        await WriteAsync(async command =>
        {
            command.CommandText = "DELETE FROM routing";
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            command.CommandText = "INSERT OR REPLACE INTO routing (peer, addrs, last_seen) VALUES ($peer, $addrs, $seen)";
            var peer = command.Parameters.Add("$peer", SqliteType.Blob);
            var addrs = command.Parameters.Add("$addrs", SqliteType.Blob);
            var seen = command.Parameters.Add("$seen", SqliteType.Integer);
            foreach (var entry in entries)
            {
                peer.Value = entry.PeerId.ToByteArray();
                addrs.Value = EncodeAddresses(entry.Addresses);
                seen.Value = entry.LastSeen.ToUnixTimeMilliseconds();
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            return true;
        }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<RoutingTableEntry>> LoadRoutingSnapshotAsync(CancellationToken cancellationToken) =>
        [.. (await ReadAsync("SELECT peer, addrs, last_seen FROM routing ORDER BY last_seen DESC", _ => { }, ReadSnapshotRow, cancellationToken)
            .ConfigureAwait(false)).OfType<RoutingTableEntry>()];

    /// <summary>One snapshot row, or null when it does not decode (a damaged row is skipped, not fatal).</summary>
    private static RoutingTableEntry? ReadSnapshotRow(SqliteDataReader r)
    {
        try
        {
            return new RoutingTableEntry(PeerId.FromBytes((byte[])r[0]), DecodeAddresses((byte[])r[1]), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)));
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or InvalidCastException or ArgumentException)
        {
            return null;
        }
    }
}
