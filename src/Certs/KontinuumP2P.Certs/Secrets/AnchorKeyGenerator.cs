using System.Security.Cryptography;
using KontinuumP2P.Certs.Hashing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Certs.Secrets;

/// <summary>
/// Generates a Tier 0 anchor key from OS randomness mixed with operator entropy (dice rolls, camera noise …) through
/// BLAKE3: seed = BLAKE3-derive-key("kontinuum tier0 anchor key v1", os[32] || len || BLAKE3(file1) || …). The OS
/// part alone is full strength; the operator files protect against a weak or backdoored OS generator.
/// </summary>
public static class AnchorKeyGenerator
{
    /// <summary>The BLAKE3 derive-key context.</summary>
    public const string Context = "kontinuum tier0 anchor key v1";

    /// <summary>Hashes each entropy stream (streamed, any size) and mixes them with fresh OS randomness.</summary>
    public static async Task<Ed25519Identity> GenerateAsync(IReadOnlyList<Stream> operatorEntropy, CancellationToken cancellationToken)
    {
        var digests = new List<byte[]>(operatorEntropy.Count);
        foreach (var stream in operatorEntropy) digests.Add(await Blake3.HashStreamAsync(stream, cancellationToken).ConfigureAwait(false));
        var os = RandomNumberGenerator.GetBytes(32);
        try
        {
            return FromMaterial(os, digests);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(os);
        }
    }

    /// <summary>The deterministic mixing step (exposed for tests): the same inputs give the same key.</summary>
    internal static Ed25519Identity FromMaterial(ReadOnlySpan<byte> osRandom, IReadOnlyList<byte[]> entropyDigests)
    {
        if (osRandom.Length != 32) throw new ArgumentException("OS randomness must be 32 bytes", nameof(osRandom));
        var material = new byte[32 + 4 + entropyDigests.Count * 32];
        osRandom.CopyTo(material);
        BitConverter.TryWriteBytes(material.AsSpan(32), entropyDigests.Count);
        for (var i = 0; i < entropyDigests.Count; i++) entropyDigests[i].CopyTo(material, 36 + i * 32);
        var seed = Blake3.DeriveKey(Context, material);
        try
        {
            return Ed25519Identity.FromSeed(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
            CryptographicOperations.ZeroMemory(material);
        }
    }
}
