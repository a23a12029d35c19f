using System.CommandLine;
using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Admin;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>cert request --admin-endpoint URL --token T</c>: the node side of HQ's admin API.</summary>
internal static class AdminRequest
{
    public static (Option<string> Endpoint, Option<string> Token, Option<string> CertOutput, Option<int> Wait) Options() =>
        (new Option<string>("--admin-endpoint") { Description = "HQ admin API URL: send the signed request there and wait for the certificate" },
         new Option<string>("--token") { Description = "Single-use enrollment token (with --admin-endpoint)" },
         new Option<string>("--cert-output") { DefaultValueFactory = _ => "node.cert", Description = "Where to write the certificate (with --admin-endpoint)" },
         new Option<int>("--wait") { DefaultValueFactory = _ => 3600, Description = "Seconds to wait for Tier 0 signatures (with --admin-endpoint)" });

    /// <summary>Signs and sends the request, waits for the certificate and writes it; returns the path written.</summary>
    public static async Task<string> SendAsync(string endpoint, string? token, Ed25519Identity? key, CertificateRequest request, string certOutput, int waitSeconds,
        CancellationToken cancellationToken)
    {
        if (key is null) throw new ArgumentException("--admin-endpoint needs --node-key: the request is signed with the node's key");
        if (string.IsNullOrEmpty(token)) throw new ArgumentException("--admin-endpoint needs --token (the enrollment token from HQ)");
        if (!Uri.TryCreate(endpoint.EndsWith('/') ? endpoint : endpoint + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"--admin-endpoint '{endpoint}' is not an http(s) URL");
        if (waitSeconds < 1) throw new ArgumentException("--wait must be at least 1 second");
        using var http = new HttpClient { BaseAddress = uri, Timeout = TimeSpan.FromSeconds(30) };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(waitSeconds));
        try
        {
            var cert = await new AdminClient(http).RequestCertificateAsync(SignedCertificateRequest.Create(request, key, token), TimeSpan.FromSeconds(2),
                TimeProvider.System, deadline.Token).ConfigureAwait(false);
            TrustCli.WriteFile(certOutput, cert.Encode());
            return certOutput;
        }
        catch (AdminException e)
        {
            throw new IOException(e.Message, e);
        }
        catch (HttpRequestException e)
        {
            throw new IOException($"cannot reach the admin API at {uri}: {e.Message}", e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"no certificate within {waitSeconds} s (Tier 0 signatures still missing?)", e);
        }
    }
}
