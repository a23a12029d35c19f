using System.Security.Cryptography;
using NSec.Cryptography;

namespace KontinuumP2P.Net.Security.Noise;

/// <summary>
/// RFC 5869 HKDF-SHA256 as Noise uses it. Noise's HKDF(ck, ikm) is exactly this with salt = ck, info = ∅ and 64 output
/// bytes, so a DH output is derived from straight inside NSec (whose X25519 never hands out raw shared secrets) and
/// everything else by the BCL.
/// </summary>
internal static class NoiseHkdf
{
    /// <summary>HKDF-SHA256 over raw input key material (BCL); empty key material is allowed (Split uses it).</summary>
    public static void Derive(ReadOnlySpan<byte> salt, ReadOnlySpan<byte> inputKeyMaterial, ReadOnlySpan<byte> info, Span<byte> output)
    {
        // Extract by hand: the BCL's HKDF.Extract/DeriveKey go to OpenSSL, which refuses empty key material.
        // An empty salt is HMAC's all-zero key, exactly as RFC 5869 defines the default salt.
        Span<byte> prk = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(salt, inputKeyMaterial, prk);
        HKDF.Expand(HashAlgorithmName.SHA256, prk, output, info);
        CryptographicOperations.ZeroMemory(prk);
    }

    /// <summary>HKDF-SHA256 over an NSec shared secret (a DH output).</summary>
    public static void Derive(ReadOnlySpan<byte> salt, SharedSecret inputKeyMaterial, ReadOnlySpan<byte> info, Span<byte> output) =>
        KeyDerivationAlgorithm.HkdfSha256.DeriveBytes(inputKeyMaterial, salt, info, output);
}
