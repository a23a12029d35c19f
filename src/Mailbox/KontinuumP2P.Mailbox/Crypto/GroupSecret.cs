using System.Security.Cryptography;
using KontinuumP2P.Certs.Secrets;
using NSec.Cryptography;

namespace KontinuumP2P.Mailbox.Crypto;

/// <summary>
/// The 256-bit secret every device of a group holds; everything else (blob key, mailbox ids, capabilities, archive
/// keys) is derived from it by <see cref="GroupKeys"/>. Either random, or Argon2id of a passphrase (the salt and cost
/// parameters travel in the invite, never the passphrase).
/// </summary>
public sealed class GroupSecret : IDisposable
{
    /// <summary>Length of the secret in bytes.</summary>
    public const int Length = 32;

    /// <summary>Length of the Argon2id salt in bytes.</summary>
    public const int SaltLength = 16;

    private readonly byte[] _bytes;

    private GroupSecret(byte[] bytes) => _bytes = bytes;

    /// <summary>The raw secret (a copy is never made implicitly; do not keep the span beyond this object's life).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>A fresh random secret.</summary>
    public static GroupSecret Generate() => new(RandomNumberGenerator.GetBytes(Length));

    /// <summary>Wraps existing secret bytes (copied).</summary>
    /// <exception cref="ArgumentException">Not <see cref="Length"/> bytes.</exception>
    public static GroupSecret FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length) throw new ArgumentException($"a group secret is {Length} bytes, not {bytes.Length}", nameof(bytes));
        return new GroupSecret(bytes.ToArray());
    }

    /// <summary>A fresh random Argon2id salt.</summary>
    public static byte[] NewSalt() => RandomNumberGenerator.GetBytes(SaltLength);

    /// <summary>Derives the secret from a passphrase with Argon2id (parallelism 1, as Certs' key files use).</summary>
    /// <exception cref="ArgumentException">Empty passphrase or a salt that is not <see cref="SaltLength"/> bytes.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Cost parameters out of bounds.</exception>
    public static GroupSecret FromPassphrase(string passphrase, ReadOnlySpan<byte> salt, KdfParameters kdf)
    {
        ArgumentNullException.ThrowIfNull(passphrase);
        ArgumentNullException.ThrowIfNull(kdf);
        if (passphrase.Length == 0) throw new ArgumentException("passphrase is empty", nameof(passphrase));
        if (salt.Length != SaltLength) throw new ArgumentException($"salt must be {SaltLength} bytes", nameof(salt));
        kdf.Validate();
        var argon = PasswordBasedKeyDerivationAlgorithm.Argon2id(new Argon2Parameters
        {
            DegreeOfParallelism = 1,
            MemorySize = kdf.MemoryKiB,
            NumberOfPasses = kdf.Passes,
        });
        var password = System.Text.Encoding.UTF8.GetBytes(passphrase);
        try
        {
            return new GroupSecret(argon.DeriveBytes(password, salt, Length));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(password);
        }
    }

    /// <summary>Whether both hold the same secret (constant time).</summary>
    public bool SameAs(GroupSecret other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return CryptographicOperations.FixedTimeEquals(_bytes, other._bytes);
    }

    /// <summary>Wipes the secret.</summary>
    public void Dispose() => CryptographicOperations.ZeroMemory(_bytes);
}
