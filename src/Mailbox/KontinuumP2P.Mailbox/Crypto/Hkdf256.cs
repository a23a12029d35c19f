using System.Security.Cryptography;

namespace KontinuumP2P.Mailbox.Crypto;

/// <summary>HKDF-SHA256 (RFC 5869) with the output bound checked; the one primitive <see cref="GroupKeys"/> uses.</summary>
internal static class Hkdf256
{
    /// <summary>Largest output (255 blocks of 32 bytes).</summary>
    public const int MaxOutputLength = 255 * 32;

    /// <summary>Extract then expand into <paramref name="output"/>.</summary>
    /// <exception cref="ArgumentException">Output empty or over <see cref="MaxOutputLength"/>.</exception>
    public static void Derive(ReadOnlySpan<byte> ikm, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> info, Span<byte> output)
    {
        if (output.Length is 0 or > MaxOutputLength) throw new ArgumentException($"HKDF-SHA256 output must be 1..{MaxOutputLength} bytes", nameof(output));
        Span<byte> prk = stackalloc byte[32];
        HKDF.Extract(HashAlgorithmName.SHA256, ikm, salt, prk);
        HKDF.Expand(HashAlgorithmName.SHA256, prk, output, info);
        CryptographicOperations.ZeroMemory(prk);
    }

    /// <summary>Expand only, from a pseudorandom key.</summary>
    public static void Expand(ReadOnlySpan<byte> prk, ReadOnlySpan<byte> info, Span<byte> output)
    {
        if (output.Length is 0 or > MaxOutputLength) throw new ArgumentException($"HKDF-SHA256 output must be 1..{MaxOutputLength} bytes", nameof(output));
        HKDF.Expand(HashAlgorithmName.SHA256, prk, output, info);
    }
}
