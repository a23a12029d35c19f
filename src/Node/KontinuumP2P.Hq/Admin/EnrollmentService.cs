using System.Security.Cryptography;
using System.Text.Json;
using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Audit;
using KontinuumP2P.Hq.Registry;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Hq.Admin;

/// <summary>
/// Certificate issuance and revocation behind the admin API (seed <c>kontinuum-node-admin</c>). A certificate request
/// signed by its node key plus a single-use, expiring enrollment token (stored as SHA-256) is checked completely before
/// the token is consumed; then, in one transaction with its audit entry, the certificate draft is signed with the
/// anchor keys HQ holds and, when they reach the threshold, returned at once; otherwise queued for Tier 0 operators,
/// who fetch the draft, sign it offline (<c>tier0 sign</c>) and submit partial signatures until it assembles.
/// Revocations build the next CRL the same way. Every refusal changes nothing.
/// </summary>
public sealed class EnrollmentService
{
    /// <summary>Longest accepted token, characters.</summary>
    public const int MaxTokenLength = 128;

    private readonly HqDatabase _db;
    private readonly AuditLog _audit;
    private readonly Func<TrustAnchors> _anchors;
    private readonly IReadOnlyList<Ed25519Identity> _heldKeys;
    private readonly TimeProvider _time;
    private readonly TimeSpan _certificateValidity;
    private readonly TimeSpan _crlValidity;

    /// <summary>Creates the service.</summary>
    /// <param name="db">HQ's database.</param>
    /// <param name="audit">Audit log.</param>
    /// <param name="anchors">Anchors in force.</param>
    /// <param name="heldAnchorKeys">Anchor keys HQ holds (1 for a 1-of-1 network; none when all signing is offline).</param>
    /// <param name="certificateValidity">Longest validity granted.</param>
    /// <param name="crlValidity">Next-update window of new CRLs.</param>
    /// <param name="time">Clock.</param>
    public EnrollmentService(HqDatabase db, AuditLog audit, Func<TrustAnchors> anchors, IReadOnlyList<Ed25519Identity> heldAnchorKeys,
        TimeSpan certificateValidity, TimeSpan crlValidity, TimeProvider time)
    {
        _db = db ?? throw new ArgumentNullException(nameof(db));
        _audit = audit ?? throw new ArgumentNullException(nameof(audit));
        _anchors = anchors ?? throw new ArgumentNullException(nameof(anchors));
        _heldKeys = heldAnchorKeys ?? [];
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _certificateValidity = certificateValidity;
        _crlValidity = crlValidity;
        foreach (var k in _heldKeys)
        {
            if (!_anchors().IsActiveAnchor(k.PublicKey)) throw new ArgumentException("a held key is not an active anchor", nameof(heldAnchorKeys));
        }
    }

    /// <summary>Creates an enrollment token valid for <paramref name="lifetime"/>; only its hash is stored.</summary>
    public (string Token, DateTimeOffset ExpiresAt) CreateToken(string actor, string label, TimeSpan lifetime)
    {
        if (lifetime <= TimeSpan.Zero || lifetime > TimeSpan.FromDays(30)) throw new AdminException(400, "bad-lifetime", "token lifetime must be within 30 days");
        if (label.Length > 128) throw new AdminException(400, "bad-label", "label is over 128 characters");
        var token = Base64Url(RandomNumberGenerator.GetBytes(32));
        var expires = _time.GetUtcNow() + lifetime;
        _db.InTransaction((c, tx) =>
        {
            Exec(c, tx, "INSERT INTO enrollment_tokens(token_hash, label, expires_at, used_at) VALUES ($h, $l, $e, NULL)",
                ("$h", HashToken(token)), ("$l", label), ("$e", expires.ToUnixTimeMilliseconds()));
            _audit.Append(c, tx, actor, "token.create", JsonSerializer.Serialize(new { label, expiresAt = expires }));
            return 0;
        });
        return (token, expires);
    }

    /// <summary>Handles <c>POST /certs/issue</c>.</summary>
    /// <exception cref="AdminException">Malformed, badly signed, or a bad, used or expired token; nothing changed.</exception>
    public SigningRequestView Issue(string actor, SignedCertificateRequest signed)
    {
        ArgumentNullException.ThrowIfNull(signed);
        if (string.IsNullOrEmpty(signed.Token) || signed.Token.Length > MaxTokenLength) throw new AdminException(401, "bad-token", "missing or oversized enrollment token");
        CertificateBody body;
        CertificateRequest request;
        try
        {
            request = signed.Verify();
            if (request.ValidDays > _certificateValidity.TotalDays)
                throw new TrustFormatException($"validDays {request.ValidDays} is over HQ's limit of {_certificateValidity.TotalDays:0}");
            body = request.ToBody(_time.GetUtcNow(), 0);
        }
        catch (TrustFormatException e)
        {
            Refused(actor, "cert.issue.refused", e.Message);
            throw new AdminException(400, "malformed-request", e.Message);
        }
        var now = _time.GetUtcNow();
        try
        {
            return _db.InTransaction((c, tx) =>
            {
                ConsumeToken(c, tx, signed.Token, now);
                var serial = NextCounter(c, tx, "next_serial");
                var draft = Certificate.Create(request.ToBody(now, serial)).Document;
                var id = Base64Url(RandomNumberGenerator.GetBytes(16));
                _audit.Append(c, tx, actor, "cert.issue", JsonSerializer.Serialize(new { requestId = id, nodeId = body.PeerId.ToString(), serial, capabilities = body.Capabilities, body.Provider, body.GeoZone }));
                return CreateRequest(c, tx, id, draft, body.PeerId.ToString(), actor);
            });
        }
        catch (AdminException e)
        {
            Refused(actor, "cert.issue.refused", e.Message);
            throw;
        }
    }

    /// <summary>Handles <c>POST /certs/revoke</c>: the next CRL, listing every node revoked so far.</summary>
    public SigningRequestView Revoke(string actor, IReadOnlyList<string> nodeIds, RevocationReason reason)
    {
        ArgumentNullException.ThrowIfNull(nodeIds);
        if (nodeIds.Count is 0 or > 1000) throw new AdminException(400, "malformed-request", "give 1..1000 node ids");
        var peers = new List<PeerId>();
        foreach (var n in nodeIds)
        {
            if (!PeerId.TryParse(n, out var p) || p is null) throw new AdminException(400, "malformed-request", $"'{n}' is not a peer id");
            peers.Add(p);
        }
        if (!Enum.IsDefined(reason)) throw new AdminException(400, "malformed-request", $"unknown reason {(int)reason}");
        var now = _time.GetUtcNow();
        return _db.InTransaction((c, tx) =>
        {
            foreach (var p in peers)
                Exec(c, tx, "INSERT OR IGNORE INTO revoked(node_id, reason, at) VALUES ($n, $r, $a)", ("$n", p.ToByteArray()), ("$r", (int)reason), ("$a", now.ToUnixTimeSeconds()));
            var revoked = new List<RevokedNode>();
            using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "SELECT node_id, reason, at FROM revoked ORDER BY node_id";
                using var r = cmd.ExecuteReader();
                while (r.Read()) revoked.Add(new RevokedNode((byte[])r[0], (RevocationReason)r.GetInt32(1), DateTimeOffset.FromUnixTimeSeconds(r.GetInt64(2))));
            }
            var number = NextCounter(c, tx, "next_crl");
            var issued = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
            var draft = Crl.Create(new CrlBody(number, issued, issued + _crlValidity, revoked, [], _anchors().Current.Version)).Document;
            var id = Base64Url(RandomNumberGenerator.GetBytes(16));
            _audit.Append(c, tx, actor, "cert.revoke", JsonSerializer.Serialize(new { requestId = id, crlNumber = number, nodeIds, reason = reason.ToString() }));
            return CreateRequest(c, tx, id, draft, $"crl-{number}", actor);
        });
    }

    /// <summary>Requests waiting for signatures (what Tier 0 operators fetch).</summary>
    public IReadOnlyList<SigningRequestView> Pending() => _db.Read(c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id FROM signing_requests WHERE status = 0 ORDER BY created_at, id LIMIT 100";
        var ids = new List<string>();
        using (var r = cmd.ExecuteReader()) while (r.Read()) ids.Add(r.GetString(0));
        return (IReadOnlyList<SigningRequestView>)[.. ids.Select(id => View(c, null, id)!)];
    });

    /// <summary>One request, or null.</summary>
    public SigningRequestView? Get(string id) => id.Length > 64 ? null : _db.Read(c => View(c, null, id));

    /// <summary>Adds an operator's partial signature; assembles the document when the threshold is reached.</summary>
    /// <exception cref="AdminException">Unknown request, already complete, or a partial that is not an anchor's signature of this draft.</exception>
    public SigningRequestView SubmitPartial(string actor, string id, PartialSignature partial)
    {
        ArgumentNullException.ThrowIfNull(partial);
        try
        {
            return _db.InTransaction((c, tx) =>
            {
                var (draft, status) = LoadDraft(c, tx, id) ?? throw new AdminException(404, "unknown-request", $"no signing request '{id}'");
                if (status == SigningStatus.Complete) throw new AdminException(409, "complete", $"signing request '{id}' is already complete");
                if (!partial.IsValidFor(draft)) throw new AdminException(400, "bad-partial", "the partial signature is not a valid signature of this draft");
                if (!_anchors().IsActiveAnchor(partial.Signature.PublicKey.Span)) throw new AdminException(400, "bad-partial", "the partial signature is not by an active anchor");
                Exec(c, tx, "INSERT OR IGNORE INTO partial_signatures(request_id, anchor_key, partial) VALUES ($i, $k, $p)",
                    ("$i", id), ("$k", partial.Signature.PublicKey.ToArray()), ("$p", partial.Encode()));
                _audit.Append(c, tx, actor, "signing.partial", JsonSerializer.Serialize(new { requestId = id, anchor = Anchor.KeyIdOf(partial.Signature.PublicKey.Span) }));
                TryAssemble(c, tx, id, draft, actor);
                return View(c, tx, id)!;
            });
        }
        catch (AdminException e)
        {
            Refused(actor, "signing.partial.refused", e.Message);
            throw;
        }
    }

    private SigningRequestView CreateRequest(SqliteConnection c, SqliteTransaction tx, string id, SignedDocument draft, string subject, string actor)
    {
        Exec(c, tx, "INSERT INTO signing_requests(id, kind, draft, subject, status, result, created_at) VALUES ($i, $k, $d, $s, 0, NULL, $t)",
            ("$i", id), ("$k", (int)draft.Kind), ("$d", draft.Encode()), ("$s", subject), ("$t", _time.GetUtcNow().ToUnixTimeMilliseconds()));
        foreach (var key in _heldKeys)
        {
            var p = PartialSignature.Create(draft, key);
            Exec(c, tx, "INSERT INTO partial_signatures(request_id, anchor_key, partial) VALUES ($i, $k, $p)", ("$i", id), ("$k", key.PublicKey), ("$p", p.Encode()));
        }
        TryAssemble(c, tx, id, draft, actor);
        return View(c, tx, id)!;
    }

    private void TryAssemble(SqliteConnection c, SqliteTransaction tx, string id, SignedDocument draft, string actor)
    {
        var partials = Partials(c, tx, id);
        if (partials.Count < Required(draft.Kind)) return;
        SignedDocument document;
        try
        {
            document = DocumentAssembler.Assemble(draft, partials, _anchors());
        }
        catch (ThresholdNotMetException)
        {
            return;
        }
        Exec(c, tx, "UPDATE signing_requests SET status = 1, result = $r WHERE id = $i", ("$r", document.Encode()), ("$i", id));
        _audit.Append(c, tx, actor, "signing.complete", JsonSerializer.Serialize(new { requestId = id, signatures = partials.Count }));
    }

    private int Required(DocumentKind kind) => kind == DocumentKind.Crl ? _anchors().Current.CrlThreshold : _anchors().Current.CertThreshold;

    private void ConsumeToken(SqliteConnection c, SqliteTransaction tx, string token, DateTimeOffset now)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT expires_at, used_at FROM enrollment_tokens WHERE token_hash = $h";
        cmd.Parameters.AddWithValue("$h", HashToken(token));
        using (var r = cmd.ExecuteReader())
        {
            if (!r.Read()) throw new AdminException(401, "bad-token", "unknown enrollment token");
            if (!r.IsDBNull(1)) throw new AdminException(401, "token-used", "enrollment token already used");
            if (r.GetInt64(0) <= now.ToUnixTimeMilliseconds()) throw new AdminException(401, "token-expired", "enrollment token expired");
        }
        Exec(c, tx, "UPDATE enrollment_tokens SET used_at = $u WHERE token_hash = $h", ("$u", now.ToUnixTimeMilliseconds()), ("$h", HashToken(token)));
    }

    private void Refused(string actor, string action, string reason)
    {
        _audit.Append(actor, action, JsonSerializer.Serialize(new { reason }));
    }

    private static (SignedDocument Draft, SigningStatus Status)? LoadDraft(SqliteConnection c, SqliteTransaction? tx, string id)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT draft, status FROM signing_requests WHERE id = $i";
        cmd.Parameters.AddWithValue("$i", id);
        using var r = cmd.ExecuteReader();
        if (!r.Read()) return null;
        return (SignedDocument.Decode((byte[])r[0], null, Crl.MaxEncodedLength), (SigningStatus)r.GetInt32(1));
    }

    private static List<PartialSignature> Partials(SqliteConnection c, SqliteTransaction? tx, string id)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT partial FROM partial_signatures WHERE request_id = $i ORDER BY anchor_key";
        cmd.Parameters.AddWithValue("$i", id);
        var list = new List<PartialSignature>();
        using var r = cmd.ExecuteReader();
        while (r.Read()) list.Add(PartialSignature.Decode((byte[])r[0]));
        return list;
    }

    private SigningRequestView? View(SqliteConnection c, SqliteTransaction? tx, string id)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT kind, draft, subject, status, result FROM signing_requests WHERE id = $i";
        cmd.Parameters.AddWithValue("$i", id);
        using var r = cmd.ExecuteReader();
        if (!r.Read()) return null;
        var kind = (DocumentKind)r.GetInt32(0);
        var view = new SigningRequestView(id, kind == DocumentKind.Crl ? "crl" : "certificate", r.GetString(2), (SigningStatus)r.GetInt32(3),
            Convert.ToBase64String((byte[])r[1]), 0, Required(kind), r.IsDBNull(4) ? null : Convert.ToBase64String((byte[])r[4]));
        r.Close();
        return view with { Signatures = Partials(c, tx, id).Count };
    }

    private static ulong NextCounter(SqliteConnection c, SqliteTransaction tx, string name)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO meta(key, value) VALUES ($k, '2') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING CAST(value AS INTEGER) - 1";
        cmd.Parameters.AddWithValue("$k", name);
        return (ulong)(long)cmd.ExecuteScalar()!;
    }

    private static byte[] HashToken(string token) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static void Exec(SqliteConnection c, SqliteTransaction tx, string sql, params (string Name, object Value)[] args)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v);
        cmd.ExecuteNonQuery();
    }
}
