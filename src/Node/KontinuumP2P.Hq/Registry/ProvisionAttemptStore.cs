using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Hq.Registry;

/// <summary>One slot's provisioning failures as persisted.</summary>
/// <param name="Slot">Slot being replaced.</param>
/// <param name="Attempts">Failed attempts so far.</param>
/// <param name="NextAt">Earliest time another spare may be tried.</param>
/// <param name="Abandoned">HQ gave up on the slot.</param>
internal sealed record ProvisionAttempt(string Slot, int Attempts, DateTimeOffset NextAt, bool Abandoned);

/// <summary>
/// Provisioning failures per slot in HQ's database, so a restart (or a restore from backup) neither forgets the
/// backoff nor the attempt count. One row per slot being replaced; the row goes when a start succeeds.
/// </summary>
internal sealed class ProvisionAttemptStore(HqDatabase database)
{
    public IReadOnlyList<ProvisionAttempt> Load() => database.Read(c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT slot, attempts, next_at, abandoned FROM provision_attempts";
        using var r = cmd.ExecuteReader();
        var list = new List<ProvisionAttempt>();
        while (r.Read())
            list.Add(new ProvisionAttempt(r.GetString(0), r.GetInt32(1), new DateTimeOffset(r.GetInt64(2), TimeSpan.Zero), r.GetInt64(3) != 0));
        return list;
    });

    public void Save(ProvisionAttempt attempt) => database.InTransaction((c, tx) =>
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = """
            INSERT INTO provision_attempts(slot, attempts, next_at, abandoned) VALUES ($s, $a, $n, $x)
            ON CONFLICT(slot) DO UPDATE SET attempts = $a, next_at = $n, abandoned = $x
            """;
        cmd.Parameters.AddWithValue("$s", attempt.Slot);
        cmd.Parameters.AddWithValue("$a", attempt.Attempts);
        cmd.Parameters.AddWithValue("$n", attempt.NextAt.UtcTicks);
        cmd.Parameters.AddWithValue("$x", attempt.Abandoned ? 1 : 0);
        return cmd.ExecuteNonQuery();
    });

    public void Delete(string slot) => database.InTransaction((c, tx) =>
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "DELETE FROM provision_attempts WHERE slot = $s";
        cmd.Parameters.AddWithValue("$s", slot);
        return cmd.ExecuteNonQuery();
    });
}
