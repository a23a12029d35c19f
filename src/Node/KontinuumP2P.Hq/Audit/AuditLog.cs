using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Registry;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Hq.Audit;

/// <summary>One audit entry.</summary>
/// <param name="Sequence">Position in the log, from 1, without gaps.</param>
/// <param name="At">When (Unix milliseconds).</param>
/// <param name="Actor">Who (e.g. <c>hq</c>, <c>admin-api 127.0.0.1</c>, a mailbox peer id).</param>
/// <param name="Action">What, e.g. <c>slot.replace</c>.</param>
/// <param name="Detail">JSON detail.</param>
/// <param name="PreviousHash">Hash of the previous entry (32 zero bytes for the first).</param>
/// <param name="Hash">SHA-256 over the previous hash and this entry's fields.</param>
/// <param name="Signature">HQ's Ed25519 signature over <paramref name="Hash"/>.</param>
public sealed record AuditEntry(long Sequence, long At, string Actor, string Action, string Detail, byte[] PreviousHash, byte[] Hash, byte[] Signature);

/// <summary>The outcome of <see cref="AuditLog.Verify"/>.</summary>
/// <param name="IsValid">Whether every entry is intact.</param>
/// <param name="Entries">Entries checked.</param>
/// <param name="FirstBadSequence">First entry that fails, when not valid.</param>
/// <param name="Problem">What is wrong with it.</param>
/// <param name="HeadHash">Hash of the last entry (hex), to compare with one kept elsewhere.</param>
public sealed record AuditVerification(bool IsValid, long Entries, long? FirstBadSequence, string? Problem, string HeadHash);

/// <summary>
/// Append-only, hash-chained audit log signed by HQ's key, in HQ's database. Any edit, insertion or deletion inside
/// the chain breaks a hash, a signature or the sequence; removing entries from the end is caught only by comparing
/// <see cref="AuditVerification.HeadHash"/> with a copy kept elsewhere (HQ logs it with every entry).
/// </summary>
public sealed class AuditLog
{
    /// <summary>Longest detail accepted.</summary>
    public const int MaxDetailLength = 16 * 1024;

    private static readonly byte[] Domain = "kontinuum-hq-audit-v1\0"u8.ToArray();
    private readonly HqDatabase _db;
    private readonly Ed25519Identity _key;
    private readonly TimeProvider _time;

    /// <summary>Creates the log over <paramref name="db"/>, signing with HQ's <paramref name="key"/>.</summary>
    public AuditLog(HqDatabase db, Ed25519Identity key, TimeProvider time)
    {
        _db = db ?? throw new ArgumentNullException(nameof(db));
        _key = key ?? throw new ArgumentNullException(nameof(key));
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>Appends an entry in its own transaction.</summary>
    public AuditEntry Append(string actor, string action, string detail) =>
        _db.InTransaction((c, tx) => Append(c, tx, actor, action, detail));

    /// <summary>Appends an entry inside the caller's transaction (so the audited change and its entry commit together).</summary>
    public AuditEntry Append(SqliteConnection connection, SqliteTransaction tx, string actor, string action, string detail)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrEmpty(actor);
        ArgumentException.ThrowIfNullOrEmpty(action);
        ArgumentNullException.ThrowIfNull(detail);
        if (detail.Length > MaxDetailLength) detail = detail[..MaxDetailLength];
        long seq;
        byte[] prev;
        using (var cmd = connection.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
            using var r = cmd.ExecuteReader();
            if (r.Read())
            {
                seq = r.GetInt64(0) + 1;
                prev = (byte[])r[1];
            }
            else
            {
                seq = 1;
                prev = new byte[32];
            }
        }
        var at = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var hash = HashOf(seq, at, actor, action, detail, prev);
        var signature = _key.Sign(hash);
        using (var cmd = connection.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT INTO audit(seq, at, actor, action, detail, prev_hash, hash, signature) VALUES ($s, $a, $ac, $act, $d, $p, $h, $sig)";
            cmd.Parameters.AddWithValue("$s", seq);
            cmd.Parameters.AddWithValue("$a", at);
            cmd.Parameters.AddWithValue("$ac", actor);
            cmd.Parameters.AddWithValue("$act", action);
            cmd.Parameters.AddWithValue("$d", detail);
            cmd.Parameters.AddWithValue("$p", prev);
            cmd.Parameters.AddWithValue("$h", hash);
            cmd.Parameters.AddWithValue("$sig", signature);
            cmd.ExecuteNonQuery();
        }
        return new AuditEntry(seq, at, actor, action, detail, prev, hash, signature);
    }

    /// <summary>The last <paramref name="count"/> entries, newest last.</summary>
    public IReadOnlyList<AuditEntry> Tail(int count) => _db.Read(c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT seq, at, actor, action, detail, prev_hash, hash, signature FROM audit ORDER BY seq DESC LIMIT $n";
        cmd.Parameters.AddWithValue("$n", count);
        var list = new List<AuditEntry>();
        using var r = cmd.ExecuteReader();
        while (r.Read()) list.Add(ReadEntry(r));
        list.Reverse();
        return (IReadOnlyList<AuditEntry>)list;
    });

    /// <summary>Checks the whole chain against HQ's public key.</summary>
    public static AuditVerification Verify(HqDatabase db, ReadOnlySpan<byte> hqPublicKey)
    {
        ArgumentNullException.ThrowIfNull(db);
        var key = hqPublicKey.ToArray();
        return db.Read(c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT seq, at, actor, action, detail, prev_hash, hash, signature FROM audit ORDER BY seq";
            using var r = cmd.ExecuteReader();
            var prev = new byte[32];
            long expected = 1;
            while (r.Read())
            {
                var e = ReadEntry(r);
                string? problem = null;
                if (e.Sequence != expected) problem = $"sequence {e.Sequence} where {expected} was expected (an entry was removed or inserted)";
                else if (!e.PreviousHash.AsSpan().SequenceEqual(prev)) problem = "previous-hash link broken";
                else if (!HashOf(e.Sequence, e.At, e.Actor, e.Action, e.Detail, e.PreviousHash).AsSpan().SequenceEqual(e.Hash)) problem = "content does not match its hash (edited)";
                else if (!Ed25519Identity.Verify(key, e.Hash, e.Signature)) problem = "signature is not HQ's";
                if (problem is not null) return new AuditVerification(false, expected - 1, e.Sequence, problem, Convert.ToHexStringLower(prev));
                prev = e.Hash;
                expected++;
            }
            return new AuditVerification(true, expected - 1, null, null, Convert.ToHexStringLower(prev));
        });
    }

    private static AuditEntry ReadEntry(SqliteDataReader r) =>
        new(r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetString(4), (byte[])r[5], (byte[])r[6], (byte[])r[7]);

    private static byte[] HashOf(long seq, long at, string actor, string action, string detail, byte[] prev)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> n = stackalloc byte[8];
        h.AppendData(Domain);
        h.AppendData(prev);
        BinaryPrimitives.WriteInt64BigEndian(n, seq);
        h.AppendData(n);
        BinaryPrimitives.WriteInt64BigEndian(n, at);
        h.AppendData(n);
        foreach (var field in new[] { actor, action, detail })
        {
            var bytes = Encoding.UTF8.GetBytes(field);
            BinaryPrimitives.WriteInt64BigEndian(n, bytes.Length);
            h.AppendData(n);
            h.AppendData(bytes);
        }
        return h.GetHashAndReset();
    }
}
