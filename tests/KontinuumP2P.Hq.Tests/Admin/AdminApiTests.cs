using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Admin;
using KontinuumP2P.Hq.Audit;
using KontinuumP2P.Hq.Registry;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Hq.Tests.Admin;

public sealed class AdminApiTests
{
    private const string OperatorToken = "operator-secret-for-tests";
    private string _dir = null!;
    private FakeTimeProvider _time = null!;
    private List<Ed25519Identity> _anchorKeys = null!;
    private HqDatabase _db = null!;
    private AuditLog _audit = null!;
    private TrustAnchors _anchors = null!;
    private Ed25519Identity _hqKey = null!;
    private AdminApi _api = null!;
    private HttpClient _http = null!;

    private async Task StartAsync(int anchors, int threshold, int held, int requestsPerMinute = 1000)
    {
        _dir = Path.Combine(Path.GetTempPath(), "hq-admin-" + Guid.NewGuid().ToString("N"));
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
        _anchorKeys = [.. Enumerable.Range(0, anchors).Select(_ => Ed25519Identity.Generate())];
        var set = new AnchorSet(1, _anchorKeys.Select((k, i) => new Anchor(k.PublicKey, $"anchor-{i}")), threshold, threshold, Math.Max(1, threshold - 1));
        _anchors = TrustAnchors.Create(set, _time);
        _db = HqDatabase.Open(_dir);
        _hqKey = Ed25519Identity.Generate();
        _audit = new AuditLog(_db, _hqKey, _time);
        var enrollment = new EnrollmentService(_db, _audit, () => _anchors, _anchorKeys.Take(held).ToList(), TimeSpan.FromDays(365), TimeSpan.FromDays(7), _time);
        _api = await AdminApi.StartAsync(new HqOptions.AdminApiOptions { Listen = "http://127.0.0.1:0", RequestsPerMinute = requestsPerMinute },
            enrollment, _audit, AdminApi.HashOperatorToken(OperatorToken), null, CancellationToken.None);
        _http = new HttpClient { BaseAddress = _api.Address, Timeout = TimeSpan.FromSeconds(20) };
    }

    [TearDown]
    public async Task TearDown()
    {
        _http?.Dispose();
        if (_api is not null) await _api.DisposeAsync();
        _db?.Dispose();
        _hqKey?.Dispose();
        foreach (var k in _anchorKeys ?? []) k.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_dir is not null && Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    private async Task<string> NewTokenAsync(double lifetimeSeconds = 3600)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, "tokens") { Content = JsonContent.Create(new { label = "node-1", lifetimeSeconds }) };
        req.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", OperatorToken);
        using var resp = await _http.SendAsync(req);
        Assert.That(resp.StatusCode, Is.EqualTo(HttpStatusCode.OK), await resp.Content.ReadAsStringAsync());
        return (await resp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
    }

    private static CertificateRequest RequestFor(Ed25519Identity node) => new()
    {
        NodePublicKey = Convert.ToHexStringLower(node.PublicKey),
        Capabilities = ["dht", "mailbox"],
        Provider = "hetzner",
        GeoZone = "eu-central",
        ValidDays = 90,
    };

    private async Task<AdminException> RefusedAsync(SignedCertificateRequest request)
    {
        var client = new AdminClient(_http);
        var e = Assert.ThrowsAsync<AdminException>(() => client.RequestCertificateAsync(request, TimeSpan.FromMilliseconds(20), TimeProvider.System, CancellationToken.None));
        return await Task.FromResult(e!);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task One_of_one_token_to_verified_certificate_and_replays_and_expired_tokens_refused()
    {
        await StartAsync(1, 1, held: 1);
        using var node = Ed25519Identity.Generate();
        var token = await NewTokenAsync();
        var client = new AdminClient(_http);
        var signed = SignedCertificateRequest.Create(RequestFor(node), node, token);
        var cert = await client.RequestCertificateAsync(signed, TimeSpan.FromMilliseconds(20), TimeProvider.System, CancellationToken.None);
        Assert.That(cert.Body.PeerId, Is.EqualTo(node.PeerId));
        Assert.That(cert.Body.Capabilities, Is.EqualTo(new[] { "dht", "mailbox" }));
        Assert.That(cert.Body.Provider, Is.EqualTo("hetzner"));
        Assert.That(_anchors.VerifyCertificate(cert).IsValid, Is.True);

        var replay = await RefusedAsync(signed);
        Assert.That(replay.Error, Is.EqualTo("token-used"));
        Assert.That(replay.StatusCode, Is.EqualTo(401));

        var unknown = await RefusedAsync(SignedCertificateRequest.Create(RequestFor(node), node, "not-a-token"));
        Assert.That(unknown.Error, Is.EqualTo("bad-token"));

        var shortLived = await NewTokenAsync(60);
        _time.Advance(TimeSpan.FromSeconds(60));
        var expired = await RefusedAsync(SignedCertificateRequest.Create(RequestFor(node), node, shortLived));
        Assert.That(expired.Error, Is.EqualTo("token-expired"));
        Assert.That(AuditLog.Verify(_db, _hqKey.PublicKey).IsValid, Is.True);
        Assert.That(_audit.Tail(100).Select(e => e.Action), Does.Contain("cert.issue").And.Contain("cert.issue.refused").And.Contain("token.create"));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Malformed_or_badly_signed_requests_are_refused_and_do_not_consume_the_token()
    {
        await StartAsync(1, 1, held: 1);
        using var node = Ed25519Identity.Generate();
        using var other = Ed25519Identity.Generate();
        var token = await NewTokenAsync();
        var good = SignedCertificateRequest.Create(RequestFor(node), node, token);

        var forged = good with { Signature = SignedCertificateRequest.Create(RequestFor(other), other, token).Signature };
        Assert.That((await RefusedAsync(forged)).Message, Does.Contain("not signed by the node key"));
        var badField = SignedCertificateRequest.Create(RequestFor(node) with { Capabilities = ["BAD CAP"] }, node, token);
        Assert.That((await RefusedAsync(badField)).Message, Does.Contain("capability"));
        var tooLong = SignedCertificateRequest.Create(RequestFor(node) with { ValidDays = 3000 }, node, token);
        Assert.That((await RefusedAsync(tooLong)).Message, Does.Contain("validDays"));

        using (var resp = await _http.PostAsync("certs/issue", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.That(resp.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await resp.Content.ReadAsStringAsync(), Does.Contain("malformed-request"));
        }
        using (var resp = await _http.PostAsync("certs/issue", new ByteArrayContent(new byte[AdminApi.MaxBodyBytes + 1]) { Headers = { ContentType = new("application/json") } }))
            Assert.That((int)resp.StatusCode, Is.EqualTo(413).Or.EqualTo(400));

        // The token survived every refusal.
        var cert = await new AdminClient(_http).RequestCertificateAsync(good, TimeSpan.FromMilliseconds(20), TimeProvider.System, CancellationToken.None);
        Assert.That(_anchors.VerifyCertificate(cert).IsValid, Is.True);

        // Operator calls need the operator token.
        using var noAuth = await _http.PostAsJsonAsync("tokens", new { label = "x", lifetimeSeconds = 60 });
        Assert.That(noAuth.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Three_of_five_collects_partial_signatures_one_by_one()
    {
        await StartAsync(5, 3, held: 0);
        using var node = Ed25519Identity.Generate();
        var token = await NewTokenAsync();
        var client = new AdminClient(_http);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        var waiting = client.RequestCertificateAsync(SignedCertificateRequest.Create(RequestFor(node), node, token), TimeSpan.FromMilliseconds(50), TimeProvider.System, cts.Token);

        // Poll as an operator would until the queued request shows up (bounded).
        SigningRequestView? pending = null;
        for (var attempt = 0; attempt < 400 && pending is null && !waiting.IsCompleted; attempt++)
        {
            pending = (await _http.GetFromJsonAsync<SigningRequestView[]>("signing-requests"))!.SingleOrDefault();
            if (pending is null) await Task.Delay(25);
        }
        Assert.That(pending, Is.Not.Null);
        Assert.That(pending!.Kind, Is.EqualTo("certificate"));
        Assert.That(pending.Required, Is.EqualTo(3));
        var draft = SignedDocument.Decode(Convert.FromBase64String(pending.Draft), DocumentKind.Certificate, Certificate.MaxEncodedLength);

        // A signature by a key that is not an anchor is refused and counts nothing.
        using var stranger = Ed25519Identity.Generate();
        var bad = await SubmitAsync(pending.Id, PartialSignature.Create(draft, stranger));
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));

        for (var i = 0; i < 3; i++)
        {
            Assert.That(waiting.IsCompleted, Is.False, $"certificate returned after only {i} signatures");
            using var resp = await SubmitAsync(pending.Id, PartialSignature.Create(draft, _anchorKeys[i]));
            var view = await AdminClient.ReadAsync(resp, CancellationToken.None);
            Assert.That(view.Signatures, Is.EqualTo(i + 1));
            Assert.That(view.Status, Is.EqualTo(i < 2 ? SigningStatus.Pending : SigningStatus.Complete));
        }
        var cert = await waiting;
        Assert.That(cert.Signatures, Has.Count.EqualTo(3));
        Assert.That(_anchors.VerifyCertificate(cert).IsValid, Is.True);
        using var late = await SubmitAsync(pending.Id, PartialSignature.Create(draft, _anchorKeys[3]));
        Assert.That(late.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Revoke_builds_the_next_crl_and_with_three_of_five_waits_for_operators()
    {
        await StartAsync(5, 3, held: 1);
        var victim = Ed25519Identity.Generate().PeerId;
        using var req = new HttpRequestMessage(HttpMethod.Post, "certs/revoke") { Content = JsonContent.Create(new { nodeIds = new[] { victim.ToString() }, reason = "abuse" }) };
        req.Headers.Authorization = new("Bearer", OperatorToken);
        using var resp = await _http.SendAsync(req);
        Assert.That(resp.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        var view = await AdminClient.ReadAsync(resp, CancellationToken.None);
        Assert.That(view.Kind, Is.EqualTo("crl"));
        Assert.That(view.Signatures, Is.EqualTo(1), "HQ's held key signs at once");
        var draft = SignedDocument.Decode(Convert.FromBase64String(view.Draft), DocumentKind.Crl, Crl.MaxEncodedLength);
        for (var i = 1; i < 3; i++) using (await SubmitAsync(view.Id, PartialSignature.Create(draft, _anchorKeys[i]))) { }
        var done = await _http.GetFromJsonAsync<SigningRequestView>($"certs/requests/{view.Id}");
        Assert.That(done!.Status, Is.EqualTo(SigningStatus.Complete));
        var crl = Crl.Decode(Convert.FromBase64String(done.Result!));
        Assert.That(crl.Body.RevokedNodes.Single().NodeId.ToArray(), Is.EqualTo(victim.ToByteArray()));
        Assert.That(_anchors.MeetsThreshold(crl.Document, ThresholdKind.Crl, _time.GetUtcNow()), Is.True);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Requests_over_the_rate_limit_get_429()
    {
        await StartAsync(1, 1, held: 1, requestsPerMinute: 3);
        var codes = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var resp = await _http.GetAsync("signing-requests");
            codes.Add(resp.StatusCode);
        }
        Assert.That(codes, Is.EqualTo(new[] { HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests }));
        Assert.That(_audit.Tail(10).Select(e => e.Action), Does.Contain("admin.rate-limited"));
    }

    private Task<HttpResponseMessage> SubmitAsync(string id, PartialSignature partial) =>
        _http.PostAsJsonAsync($"signing-requests/{id}/partials", new { partial = Convert.ToBase64String(partial.Encode()) });
}
