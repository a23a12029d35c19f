using System.Security.Cryptography;
using KontinuumP2P.Certs.Encoding;

namespace KontinuumP2P.Certs.Secrets;

/// <summary>
/// Shamir secret sharing over GF(256), byte by byte. The shared payload is the secret followed by a 16-byte tag
/// (SHA-256 over set id, threshold and secret), so combining any share set that includes an altered share yields a
/// tag mismatch instead of a wrong secret. Used 3-of-5 for the Tier 0 backup passphrase.
/// </summary>
public static class ShamirSecretSharing
{
    /// <summary>Bytes of integrity tag appended to the secret before splitting.</summary>
    public const int TagLength = 16;

    /// <summary>Longest secret accepted.</summary>
    public const int MaxSecretLength = 1024;

    /// <summary>Share subsets tried before giving up (bounds the work when many shares are given).</summary>
    public const int MaxSubsetAttempts = 5000;

    /// <summary>Splits <paramref name="secret"/> into <paramref name="shares"/> shares, any <paramref name="threshold"/> of which rebuild it.</summary>
    /// <exception cref="ArgumentException">Empty or oversized secret, or threshold/share counts out of range.</exception>
    public static IReadOnlyList<ShamirShare> Split(ReadOnlySpan<byte> secret, int threshold, int shares)
    {
        if (secret.IsEmpty || secret.Length > MaxSecretLength) throw new ArgumentException($"secret must be 1..{MaxSecretLength} bytes", nameof(secret));
        if (threshold < 2) throw new ArgumentException("threshold must be at least 2", nameof(threshold));
        if (shares < threshold || shares > 255) throw new ArgumentException("shares must be between the threshold and 255", nameof(shares));
        var setId = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4));
        var payload = new byte[secret.Length + TagLength];
        secret.CopyTo(payload);
        Tag(setId, threshold, secret).CopyTo(payload.AsSpan(secret.Length));
        var ys = new byte[shares][];
        for (var s = 0; s < shares; s++) ys[s] = new byte[payload.Length];
        var coefficients = new byte[threshold];
        for (var i = 0; i < payload.Length; i++)
        {
            coefficients[0] = payload[i];
            RandomNumberGenerator.Fill(coefficients.AsSpan(1));
            for (var s = 0; s < shares; s++) ys[s][i] = Evaluate(coefficients, (byte)(s + 1));
        }
        CryptographicOperations.ZeroMemory(coefficients);
        CryptographicOperations.ZeroMemory(payload);
        return [.. Enumerable.Range(0, shares).Select(s => new ShamirShare(setId, threshold, s + 1, ys[s]))];
    }

    /// <summary>
    /// Rebuilds the secret. With more shares than the threshold, subsets are tried until one passes the tag, and shares
    /// off that polynomial are reported in <see cref="ShamirCombineResult.RejectedIndices"/>.
    /// </summary>
    /// <exception cref="TrustFormatException">Too few shares, shares from different splits, duplicates, or tampering.</exception>
    public static ShamirCombineResult Combine(IReadOnlyList<ShamirShare> shares)
    {
        if (shares.Count == 0) throw new TrustFormatException("no shares given");
        var first = shares[0];
        foreach (var s in shares)
        {
            if (s.SetId != first.SetId) throw new TrustFormatException($"share {s.Index} belongs to split {s.SetId:x8}, not {first.SetId:x8}");
            if (s.Threshold != first.Threshold) throw new TrustFormatException($"share {s.Index} says threshold {s.Threshold}, share {first.Index} says {first.Threshold}");
            if (s.Payload.Length != first.Payload.Length) throw new TrustFormatException($"share {s.Index} has a different length");
        }
        if (shares.Select(s => s.Index).Distinct().Count() != shares.Count) throw new TrustFormatException("the same share index is given twice");
        if (shares.Count < first.Threshold)
            throw new TrustFormatException($"{shares.Count} shares given, {first.Threshold} needed");
        var attempts = 0;
        foreach (var subset in Subsets(shares.Count, first.Threshold))
        {
            if (++attempts > MaxSubsetAttempts) break;
            var chosen = subset.Select(i => shares[i]).ToList();
            var payload = Interpolate(chosen, 0);
            var secret = payload.AsSpan(0, payload.Length - TagLength);
            if (CryptographicOperations.FixedTimeEquals(Tag(first.SetId, first.Threshold, secret), payload.AsSpan(secret.Length)))
            {
                var rejected = shares.Except(chosen)
                    .Where(s => !Interpolate(chosen, (byte)s.Index).AsSpan().SequenceEqual(s.Payload.Span))
                    .Select(s => s.Index).ToList();
                return new ShamirCombineResult(secret.ToArray(), rejected);
            }
        }
        throw new TrustFormatException("the shares do not rebuild a valid secret: at least one share was altered");
    }

    private static byte[] Tag(uint setId, int threshold, ReadOnlySpan<byte> secret)
    {
        var input = new byte[24 + secret.Length];
        "kontinuum-shamir-v1\0"u8.CopyTo(input);
        BitConverter.TryWriteBytes(input.AsSpan(20), setId);
        secret.CopyTo(input.AsSpan(24));
        input[23] ^= (byte)threshold;
        var tag = SHA256.HashData(input).AsSpan(0, TagLength).ToArray();
        CryptographicOperations.ZeroMemory(input);
        return tag;
    }

    private static byte Evaluate(byte[] coefficients, byte x)
    {
        byte y = 0;
        for (var i = coefficients.Length - 1; i >= 0; i--) y = (byte)(GaloisField256.Multiply(y, x) ^ coefficients[i]);
        return y;
    }

    /// <summary>Lagrange interpolation of every payload byte at <paramref name="x"/>.</summary>
    private static byte[] Interpolate(IReadOnlyList<ShamirShare> shares, byte x)
    {
        var length = shares[0].Payload.Length;
        var result = new byte[length];
        for (var j = 0; j < shares.Count; j++)
        {
            byte basis = 1;
            var xj = (byte)shares[j].Index;
            for (var m = 0; m < shares.Count; m++)
            {
                if (m == j) continue;
                var xm = (byte)shares[m].Index;
                basis = GaloisField256.Multiply(basis, GaloisField256.Divide((byte)(x ^ xm), (byte)(xj ^ xm)));
            }
            var y = shares[j].Payload.Span;
            for (var i = 0; i < length; i++) result[i] ^= GaloisField256.Multiply(basis, y[i]);
        }
        return result;
    }

    private static IEnumerable<int[]> Subsets(int n, int k)
    {
        var indices = Enumerable.Range(0, k).ToArray();
        while (true)
        {
            yield return (int[])indices.Clone();
            var i = k - 1;
            while (i >= 0 && indices[i] == n - k + i) i--;
            if (i < 0) yield break;
            indices[i]++;
            for (var j = i + 1; j < k; j++) indices[j] = indices[j - 1] + 1;
        }
    }
}

/// <summary>A rebuilt secret and the indices of given shares that did not fit it (altered shares).</summary>
/// <param name="Secret">The secret.</param>
/// <param name="RejectedIndices">Shares that were ignored because they do not lie on the rebuilt polynomial.</param>
public sealed record ShamirCombineResult(byte[] Secret, IReadOnlyList<int> RejectedIndices);
