using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using NSec.Cryptography;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// Certificate verifications per second on one thread, 3-of-5 anchors, against the raw libsodium Ed25519 verify rate
/// (a certificate costs three verifies, so the ceiling is a third of it), plus the rate for a certificate seen before
/// (verified-signature cache hit). The cold figure is the one compared with the target. Args: [seconds] (default 3).
/// </summary>
public sealed class CertVerifyBench : IBench
{
    /// <inheritdoc />
    public string Name => "cert-verify";

    /// <inheritdoc />
    public string Description => "3-of-5 certificate verifications/s on one core vs libsodium Ed25519 verifies/s (target ≥ 10,000)";

    /// <inheritdoc />
    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 3.0;
        var anchors = Enumerable.Range(0, 5).Select(i => Ed25519Identity.FromSeed([(byte)i, .. new byte[31]])).ToArray();
        var set = new AnchorSet(1, anchors.Select((k, i) => new Anchor(k.PublicKey, $"anchor-{i}")), 3, 3, 2);
        var trust = TrustAnchors.Create(set, TimeProvider.System, cacheVerifiedSignatures: false);
        var cached = TrustAnchors.Create(set, TimeProvider.System);
        using var node = Ed25519Identity.Generate();
        var now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var draft = Certificate.Create(new CertificateBody
        {
            NodeId = CertificateBody.NodeIdOf(node.PublicKey),
            NodePublicKey = node.PublicKey,
            Tier = 1,
            Tenancy = Tenancy.Multi,
            Operator = "org",
            Capabilities = ["dht", "mailbox"],
            Capacity = new NodeCapacity(1UL << 40, 1000),
            Provider = "hetzner",
            GeoZone = "eu-west",
            IssuedAt = now,
            ValidUntil = now.AddDays(365),
            Serial = 42,
        });
        var certificate = Certificate.Decode(draft.WithSignatures(
            anchors.Take(3).Select(k => new Certs.Encoding.SignatureEntry(k.PublicKey, k.Sign(draft.Document.SignedMessage.Span)))).Encode());
        if (!trust.VerifyCertificate(certificate).IsValid) throw new InvalidOperationException("bench certificate does not verify");

        var certRate = Measure(seconds, cancellationToken, () =>
        {
            if (!trust.VerifyCertificate(certificate, now).IsValid) throw new InvalidOperationException("verification failed");
        });
        var warmRate = Measure(seconds, cancellationToken, () =>
        {
            if (!cached.VerifyCertificate(certificate, now).IsValid) throw new InvalidOperationException("verification failed");
        });
        var key = PublicKey.Import(SignatureAlgorithm.Ed25519, anchors[0].PublicKey, KeyBlobFormat.RawPublicKey);
        var message = certificate.Document.SignedMessage.ToArray();
        var signature = certificate.Signatures[0].Signature.ToArray();
        var verifyRate = Measure(seconds, cancellationToken, () =>
        {
            if (!SignatureAlgorithm.Ed25519.Verify(key, message, signature)) throw new InvalidOperationException("verify failed");
        });

        Console.WriteLine($"{"what",-46} {"per second",12}");
        Console.WriteLine($"{"certificate verify (3-of-5), 1 core (CPU time)",-46} {certRate,12:N0}");
        Console.WriteLine($"{"same, seen before (signature cache hit)",-46} {warmRate,12:N0}");
        Console.WriteLine($"{"libsodium Ed25519 verify, 1 core (CPU time)",-46} {verifyRate,12:N0}");
        Console.WriteLine($"{"ceiling (verify rate / 3)",-46} {verifyRate / 3,12:N0}");
        Console.WriteLine($"{"target",-46} {10_000,12:N0}");
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = Name,
            certVerifiesPerSecond = Math.Round(certRate),
            cachedCertVerifiesPerSecond = Math.Round(warmRate),
            ed25519VerifiesPerSecond = Math.Round(verifyRate),
            ratioToCeiling = Math.Round(certRate / (verifyRate / 3), 3),
            target = 10_000,
            meetsTarget = certRate >= 10_000,
        }));
        return Task.FromResult(0);
    }

    /// <summary>
    /// Operations per second of this process's CPU time (not wall time), so the figure is per core even when other
    /// processes share the machine; the loop runs for <paramref name="seconds"/> of wall time.
    /// </summary>
    private static double Measure(double seconds, CancellationToken cancellationToken, Action action)
    {
        // Warm up long enough for tiered JIT to reach optimized code.
        var warmup = Stopwatch.StartNew();
        while (warmup.Elapsed.TotalSeconds < 1) action();
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        long count = 0;
        while (watch.Elapsed.TotalSeconds < seconds && !cancellationToken.IsCancellationRequested)
        {
            for (var i = 0; i < 256; i++) action();
            count += 256;
        }
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        return count / Math.Max(cpu, 1e-3);
    }
}
