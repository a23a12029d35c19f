using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.RateLimiting;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Hq.Audit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Hq.Admin;

/// <summary>Body of <c>POST /certs/revoke</c>.</summary>
/// <param name="NodeIds">Peer ids to revoke.</param>
/// <param name="Reason">Reason name (<see cref="RevocationReason"/>), default unspecified.</param>
public sealed record RevokeBody(IReadOnlyList<string> NodeIds, string? Reason);

/// <summary>Body of <c>POST /tokens</c>.</summary>
/// <param name="Label">What the token is for.</param>
/// <param name="LifetimeSeconds">Lifetime.</param>
public sealed record TokenBody(string? Label, double LifetimeSeconds);

/// <summary>Body of <c>POST /signing-requests/{id}/partials</c>.</summary>
/// <param name="Partial">Base64 of a <see cref="PartialSignature"/> (the output of <c>tier0 sign</c>).</param>
public sealed record PartialBody(string Partial);

/// <summary>
/// The admin HTTP API (ASP.NET Core minimal API on Kestrel): enrollment-token certificate issuance, partial-signature
/// collection and revocation. Loopback unless configured otherwise (<see cref="HqOptions.AdminApiOptions.AllowRemote"/>);
/// rate-limited per client address; every call audited. Operator calls (<c>POST /tokens</c>, <c>POST /certs/revoke</c>)
/// need <c>Authorization: Bearer &lt;operator token&gt;</c>, compared by SHA-256 in constant time.
/// </summary>
public sealed class AdminApi : IAsyncDisposable
{
    /// <summary>Largest request body accepted, bytes.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    private readonly WebApplication _app;

    private AdminApi(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>Where the API listens (the real port when 0 was asked).</summary>
    public Uri Address { get; }

    /// <summary>Starts the API.</summary>
    /// <param name="options">[admin] options (validated: loopback unless opted in).</param>
    /// <param name="enrollment">Issuance and revocation.</param>
    /// <param name="audit">Audit log for every call.</param>
    /// <param name="operatorTokenHash">SHA-256 of the operator token.</param>
    /// <param name="loggerFactory">Logging.</param>
    /// <param name="cancellationToken">Cancels startup.</param>
    public static Task<AdminApi> StartAsync(HqOptions.AdminApiOptions options, EnrollmentService enrollment, AuditLog audit,
        byte[] operatorTokenHash, ILoggerFactory? loggerFactory, CancellationToken cancellationToken) =>
        StartAsync(options, enrollment, audit, operatorTokenHash, null, loggerFactory, cancellationToken);

    /// <summary>
    /// Starts the API as above, and with <paramref name="hq"/> also <c>POST /groups</c>: HQ allocates 3 slots on
    /// distinct providers to a new group (operator token; the answer names the slots, never a secret).
    /// </summary>
    public static async Task<AdminApi> StartAsync(HqOptions.AdminApiOptions options, EnrollmentService enrollment, AuditLog audit,
        byte[] operatorTokenHash, HqService? hq, ILoggerFactory? loggerFactory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (loggerFactory is not null) builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.UseUrls(options.Listen);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = MaxBodyBytes;
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            k.AddServerHeader = false;
        });
        builder.Services.AddRateLimiter(r =>
        {
            r.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            r.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(ctx =>
                RateLimitPartition.GetFixedWindowLimiter(ctx.Connection.RemoteIpAddress?.ToString() ?? "?", _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = options.RequestsPerMinute,
                    Window = TimeSpan.FromMinutes(1),
                    QueueLimit = 0,
                }));
            r.OnRejected = (ctx, _) =>
            {
                audit.Append(Actor(ctx.HttpContext), "admin.rate-limited", JsonSerializer.Serialize(new { path = ctx.HttpContext.Request.Path.Value }));
                return ValueTask.CompletedTask;
            };
        });
        var app = builder.Build();
        app.UseRateLimiter();
        Map(app, enrollment, audit, operatorTokenHash);
        if (hq is not null) AdminGroups.Map(app, hq, audit, ctx => RequireOperator(ctx, operatorTokenHash));
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new AdminApi(app, new Uri(address));
    }

    /// <summary>SHA-256 of an operator token, as kept on disk and in memory.</summary>
    public static byte[] HashOperatorToken(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static void Map(WebApplication app, EnrollmentService enrollment, AuditLog audit, byte[] operatorTokenHash)
    {
        app.MapPost("/certs/issue", (Delegate)((HttpContext ctx) => Handle(ctx, audit, "cert.issue", async () =>
        {
            var body = await ReadAsync<SignedCertificateRequest>(ctx).ConfigureAwait(false);
            var view = enrollment.Issue(Actor(ctx), body);
            return Results.Json(view, statusCode: view.Status == SigningStatus.Complete ? 200 : 202);
        })));
        app.MapGet("/certs/requests/{id}", (HttpContext ctx, string id) => Handle(ctx, audit, null, () =>
            Task.FromResult(enrollment.Get(id) is { } v ? Results.Json(v) : Error(404, "unknown-request", $"no signing request '{id}'"))));
        app.MapGet("/signing-requests", (Delegate)((HttpContext ctx) => Handle(ctx, audit, null, () => Task.FromResult(Results.Json(enrollment.Pending())))));
        app.MapPost("/signing-requests/{id}/partials", (HttpContext ctx, string id) => Handle(ctx, audit, "signing.partial", async () =>
        {
            var body = await ReadAsync<PartialBody>(ctx).ConfigureAwait(false);
            PartialSignature partial;
            try
            {
                partial = PartialSignature.Decode(Convert.FromBase64String(body.Partial ?? ""));
            }
            catch (Exception e) when (e is FormatException or TrustFormatException)
            {
                throw new AdminException(400, "malformed-request", $"partial is not a base64 partial signature: {e.Message}");
            }
            return Results.Json(enrollment.SubmitPartial(Actor(ctx), id, partial));
        }));
        app.MapPost("/tokens", (Delegate)((HttpContext ctx) => Handle(ctx, audit, "token.create", async () =>
        {
            RequireOperator(ctx, operatorTokenHash);
            var body = await ReadAsync<TokenBody>(ctx).ConfigureAwait(false);
            if (!(body.LifetimeSeconds > 0 && body.LifetimeSeconds <= TimeSpan.FromDays(30).TotalSeconds))
                throw new AdminException(400, "bad-lifetime", "lifetimeSeconds must be within 30 days");
            var (token, expires) = enrollment.CreateToken(Actor(ctx), body.Label ?? "", TimeSpan.FromSeconds(body.LifetimeSeconds));
            return Results.Json(new { token, expiresAt = expires });
        })));
        app.MapPost("/certs/revoke", (Delegate)((HttpContext ctx) => Handle(ctx, audit, "cert.revoke", async () =>
        {
            RequireOperator(ctx, operatorTokenHash);
            var body = await ReadAsync<RevokeBody>(ctx).ConfigureAwait(false);
            var reason = RevocationReason.Unspecified;
            if (body.Reason is { } r && !Enum.TryParse(r, ignoreCase: true, out reason))
                throw new AdminException(400, "malformed-request", $"unknown reason '{r}'");
            var view = enrollment.Revoke(Actor(ctx), body.NodeIds ?? [], reason);
            return Results.Json(view, statusCode: view.Status == SigningStatus.Complete ? 200 : 202);
        })));
    }

    internal static async Task<IResult> Handle(HttpContext ctx, AuditLog audit, string? action, Func<Task<IResult>> work)
    {
        try
        {
            return await work().ConfigureAwait(false);
        }
        catch (AdminException e)
        {
            if (action is not null) audit.Append(Actor(ctx), action + ".refused", JsonSerializer.Serialize(new { error = e.Error, message = e.Message }));
            return Error(e.StatusCode, e.Error, e.Message);
        }
        catch (BadHttpRequestException e)
        {
            if (action is not null) audit.Append(Actor(ctx), action + ".refused", JsonSerializer.Serialize(new { error = "bad-request", message = e.Message }));
            return Error(e.StatusCode, "bad-request", e.Message);
        }
    }

    internal static IResult Error(int status, string error, string message) => Results.Json(new { error, message }, statusCode: status);

    internal static async Task<T> ReadAsync<T>(HttpContext ctx)
    {
        try
        {
            return await ctx.Request.ReadFromJsonAsync<T>(ctx.RequestAborted).ConfigureAwait(false)
                ?? throw new AdminException(400, "malformed-request", "empty body");
        }
        catch (JsonException e)
        {
            throw new AdminException(400, "malformed-request", $"body is not the expected JSON: {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            throw new AdminException(415, "malformed-request", e.Message);
        }
    }

    private static void RequireOperator(HttpContext ctx, byte[] operatorTokenHash)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        const string prefix = "Bearer ";
        if (!header.StartsWith(prefix, StringComparison.Ordinal) || header.Length > 256
            || !CryptographicOperations.FixedTimeEquals(HashOperatorToken(header[prefix.Length..]), operatorTokenHash))
            throw new AdminException(401, "not-operator", "this call needs the operator token (Authorization: Bearer ...)");
    }

    internal static string Actor(HttpContext ctx) => $"admin-api {ctx.Connection.RemoteIpAddress}";
}
