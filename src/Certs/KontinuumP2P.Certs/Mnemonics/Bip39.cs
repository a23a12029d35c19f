using System.Security.Cryptography;
using System.Text;

namespace KontinuumP2P.Certs.Mnemonics;

/// <summary>BIP-0039 mnemonic phrases over the English wordlist: generation from OS randomness, entropy ↔ phrase,
/// validation and the 64-byte seed (PBKDF2-HMAC-SHA512, 2048 iterations, salt "mnemonic" + passphrase, NFKD).</summary>
public static class Bip39
{
    /// <summary>PBKDF2 iteration count fixed by BIP-0039.</summary>
    public const int SeedIterations = 2048;

    /// <summary>Length of the seed, in bytes.</summary>
    public const int SeedSizeInBytes = 64;

    private const int BitsPerWord = 11;

    /// <summary>A new phrase of <paramref name="wordCount"/> words (12 = 128-bit, 24 = 256-bit entropy; 15, 18 and 21
    /// are also valid) from the operating system's cryptographic random generator.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a BIP-0039 word count.</exception>
    public static string Generate(int wordCount = 12)
    {
        if (wordCount is not (12 or 15 or 18 or 21 or 24))
            throw new ArgumentOutOfRangeException(nameof(wordCount), wordCount, "BIP-0039 phrases have 12, 15, 18, 21 or 24 words");
        Span<byte> entropy = stackalloc byte[wordCount * BitsPerWord * 32 / 33 / 8];
        RandomNumberGenerator.Fill(entropy);
        try
        {
            return FromEntropy(entropy);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(entropy);
        }
    }

    /// <summary>The phrase encoding <paramref name="entropy"/> (16, 20, 24, 28 or 32 bytes).</summary>
    /// <exception cref="ArgumentException">The entropy length is not allowed.</exception>
    public static string FromEntropy(ReadOnlySpan<byte> entropy)
    {
        if (entropy.Length is < 16 or > 32 || entropy.Length % 4 != 0)
            throw new ArgumentException($"BIP-0039 entropy is 16, 20, 24, 28 or 32 bytes, not {entropy.Length}", nameof(entropy));
        var checksumBits = entropy.Length / 4;
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(entropy, hash);
        var wordCount = (entropy.Length * 8 + checksumBits) / BitsPerWord;
        var words = new string[wordCount];
        var list = Bip39Wordlist.English;
        for (var w = 0; w < wordCount; w++)
        {
            var index = 0;
            for (var b = 0; b < BitsPerWord; b++)
                index = (index << 1) | BitAt(entropy, hash, w * BitsPerWord + b);
            words[w] = list[index];
        }
        return string.Join(' ', words);
    }

    /// <summary>The entropy a valid phrase encodes.</summary>
    /// <exception cref="InvalidMnemonicException">Wrong word count, an unknown word, or a bad checksum.</exception>
    public static byte[] ToEntropy(string mnemonic)
    {
        var words = SplitWords(mnemonic);
        if (words.Length is not (12 or 15 or 18 or 21 or 24))
            throw new InvalidMnemonicException(MnemonicError.WrongWordCount,
                $"a BIP-0039 phrase has 12, 15, 18, 21 or 24 words, this one has {words.Length}");
        var list = Bip39Wordlist.English;
        var totalBits = words.Length * BitsPerWord;
        var checksumBits = totalBits / 33;
        var entropy = new byte[(totalBits - checksumBits) / 8];
        var checksum = 0;
        for (var w = 0; w < words.Length; w++)
        {
            if (!list.TryGetIndex(words[w], out var index))
                throw new InvalidMnemonicException(MnemonicError.UnknownWord,
                    $"word {w + 1} \"{words[w]}\" is not in the BIP-0039 English wordlist");
            for (var b = 0; b < BitsPerWord; b++)
            {
                var bit = (index >> (BitsPerWord - 1 - b)) & 1;
                var position = w * BitsPerWord + b;
                if (position < entropy.Length * 8) entropy[position / 8] |= (byte)(bit << (7 - position % 8));
                else checksum = (checksum << 1) | bit;
            }
        }
        var expected = SHA256.HashData(entropy)[0] >> (8 - checksumBits);
        if (checksum != expected)
            throw new InvalidMnemonicException(MnemonicError.BadChecksum,
                "the phrase's checksum does not match: a word is probably mistyped or the words are out of order");
        return entropy;
    }

    /// <summary>Whether <paramref name="mnemonic"/> is a valid phrase; <paramref name="problem"/> says why not.</summary>
    public static bool IsValid(string mnemonic, out InvalidMnemonicException? problem)
    {
        try
        {
            ToEntropy(mnemonic);
            problem = null;
            return true;
        }
        catch (InvalidMnemonicException e)
        {
            problem = e;
            return false;
        }
    }

    /// <summary>The 64-byte seed of a valid phrase and optional passphrase. The phrase is validated first and used
    /// in canonical form (NFKD, lower-case words separated by single spaces).</summary>
    /// <exception cref="InvalidMnemonicException">The phrase is not valid.</exception>
    public static byte[] ToSeed(string mnemonic, string passphrase = "")
    {
        ArgumentNullException.ThrowIfNull(passphrase);
        ToEntropy(mnemonic);
        var password = System.Text.Encoding.UTF8.GetBytes(string.Join(' ', SplitWords(mnemonic)));
        var salt = System.Text.Encoding.UTF8.GetBytes(("mnemonic" + passphrase).Normalize(NormalizationForm.FormKD));
        try
        {
            return Rfc2898DeriveBytes.Pbkdf2(password, salt, SeedIterations, HashAlgorithmName.SHA512, SeedSizeInBytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(password);
        }
    }

    private static string[] SplitWords(string mnemonic)
    {
        ArgumentNullException.ThrowIfNull(mnemonic);
        return mnemonic.Normalize(NormalizationForm.FormKD).ToLowerInvariant()
            .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Bit <paramref name="position"/> (most significant first) of entropy followed by its SHA-256.</summary>
    private static int BitAt(ReadOnlySpan<byte> entropy, ReadOnlySpan<byte> hash, int position)
    {
        var source = position < entropy.Length * 8 ? entropy : hash;
        if (position >= entropy.Length * 8) position -= entropy.Length * 8;
        return (source[position / 8] >> (7 - position % 8)) & 1;
    }
}
