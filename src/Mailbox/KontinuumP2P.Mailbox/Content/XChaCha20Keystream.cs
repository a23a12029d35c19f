using System.Runtime.InteropServices;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// XChaCha20 alone (no Poly1305), from the libsodium that NSec ships. XChaCha20-Poly1305 (IETF) encrypts the message
/// with the XChaCha20 keystream from block 1 on (block 0 makes the one-time MAC key), so XORing with the keystream
/// from counter 1 gives the AEAD's plaintext byte for byte without computing the tag. Only for ciphertext already
/// proven authentic another way (a chunk whose BLAKE3 matches the content id's hash list). Callers hold an NSec key
/// first (ContentCipher imports one), so NSec has run sodium_init and libsodium uses its SIMD implementation.
/// </summary>
internal static partial class XChaCha20Keystream
{
    public const int KeyLength = 32;
    public const int NonceLength = 24;

    // The AEAD's message starts at block 1.
    private const ulong FirstMessageBlock = 1;

    /// <summary>XORs <paramref name="data"/> in place with the keystream of (key, nonce) from block 1.</summary>
    public static unsafe void XorInPlace(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, Span<byte> data)
    {
        if (key.Length != KeyLength) throw new ArgumentException($"an XChaCha20 key is {KeyLength} bytes", nameof(key));
        if (nonce.Length != NonceLength) throw new ArgumentException($"an XChaCha20 nonce is {NonceLength} bytes", nameof(nonce));
        if (data.IsEmpty) return;
        fixed (byte* k = key)
        fixed (byte* n = nonce)
        fixed (byte* d = data)
        {
            // libsodium returns -1 only for a length above its maximum (2^64 - 1 bytes); a span never is.
            if (crypto_stream_xchacha20_xor_ic(d, d, (ulong)data.Length, n, FirstMessageBlock, k) != 0)
                throw new InvalidOperationException("crypto_stream_xchacha20_xor_ic failed");
        }
    }

    [LibraryImport("libsodium")]
    private static unsafe partial int crypto_stream_xchacha20_xor_ic(byte* c, byte* m, ulong mlen, byte* n, ulong ic, byte* k);
}
