using NSec.Cryptography;

namespace KontinuumP2P.Archive.Crypto;

/// <summary>
/// XChaCha20-Poly1305 with a synthetic nonce (keyed BLAKE3 of associated data and plaintext). Packs and manifests must
/// come out byte-identical when the pusher rebuilds them after a crash, so that re-uploading is idempotent and no
/// duplicate pack appears; the only thing a deterministic nonce reveals is that two plaintexts were equal.
/// Layout: nonce (24) ‖ ciphertext ‖ tag (16).
/// </summary>
internal static class SyntheticAead
{
    public const int NonceLength = 24;
    public const int TagLength = 16;
    public const int Overhead = NonceLength + TagLength;

    private static readonly AeadAlgorithm Algorithm = AeadAlgorithm.XChaCha20Poly1305;

    public static byte[] Seal(byte[] key, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext)
    {
        var output = new byte[Overhead + plaintext.Length];
        Seal(key, associatedData, plaintext, output);
        return output;
    }

    public static void Seal(byte[] key, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        var nonce = Hashing.KeyedBlake3(NonceKey(key), associatedData, plaintext, NonceLength);
        nonce.CopyTo(output);
        using var k = Key.Import(Algorithm, key, KeyBlobFormat.RawSymmetricKey);
        Algorithm.Encrypt(k, nonce, associatedData, plaintext, output.Slice(NonceLength, plaintext.Length + TagLength));
    }

    // The nonce is keyed by a key of its own so the AEAD key is used for one purpose only.
    private static byte[] NonceKey(byte[] key)
    {
        using var hasher = global::Blake3.Hasher.NewDeriveKey("kontinuum archive synthetic nonce v1");
        hasher.Update(key);
        var output = new byte[32];
        hasher.Finalize(output);
        return output;
    }

    /// <summary>Opens a sealed box; false when it was not sealed under this key and associated data.</summary>
    public static bool TryOpen(byte[] key, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> sealedBox, out byte[] plaintext)
    {
        plaintext = [];
        if (sealedBox.Length < Overhead) return false;
        var output = new byte[sealedBox.Length - Overhead];
        using var k = Key.Import(Algorithm, key, KeyBlobFormat.RawSymmetricKey);
        if (!Algorithm.Decrypt(k, sealedBox[..NonceLength], associatedData, sealedBox[NonceLength..], output)) return false;
        plaintext = output;
        return true;
    }
}
