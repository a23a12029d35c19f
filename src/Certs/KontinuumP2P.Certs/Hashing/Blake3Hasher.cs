extern alias Blake3Package;
using PackageHasher = Blake3Package::Blake3.Hasher;

namespace KontinuumP2P.Certs.Hashing;

/// <summary>Incremental BLAKE3 in any of its three modes (hash, keyed hash, derive key). Feed input with
/// <see cref="Update"/> as often as needed; finalising does not consume the state, so more input may follow.
/// Allocates only when constructed. Not thread-safe.</summary>
/// <remarks>A thin adapter over the managed SIMD implementation of the Blake3 package, which keeps the package's
/// types out of our public API.</remarks>
public sealed class Blake3Hasher
{
    private readonly PackageHasher _hasher;

    /// <summary>A hasher for the plain (unkeyed) hash.</summary>
    public Blake3Hasher() : this(PackageHasher.New())
    {
    }

    private Blake3Hasher(PackageHasher hasher) => _hasher = hasher;

    /// <summary>A hasher for the keyed hash (a MAC / PRF) with a 32-byte key.</summary>
    /// <exception cref="ArgumentException">The key is not 32 bytes.</exception>
    public static Blake3Hasher CreateKeyed(ReadOnlySpan<byte> key)
    {
        if (key.Length != Blake3.KeySizeInBytes)
            throw new ArgumentException($"a BLAKE3 key is {Blake3.KeySizeInBytes} bytes, not {key.Length}", nameof(key));
        return new Blake3Hasher(PackageHasher.NewKeyed(key));
    }

    /// <summary>A hasher for key derivation: feed it the key material; the output is the derived key.</summary>
    /// <param name="context">A hard-coded, globally unique, application-specific string, e.g.
    /// "KontinuumP2P 2026-11-23 mailbox session key". Never key material.</param>
    public static Blake3Hasher CreateDeriveKey(string context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new Blake3Hasher(PackageHasher.NewDeriveKey(context));
    }

    /// <summary>Adds input. Any split of the same bytes across calls gives the same result.</summary>
    public void Update(ReadOnlySpan<byte> input) => _hasher.Update(input);

    /// <summary>Writes the first <paramref name="output"/>.Length bytes of the output (32 is the standard hash;
    /// longer is the extended output).</summary>
    public void Finalize(Span<byte> output) => _hasher.Finalize(output);

    /// <summary>Returns the standard 32-byte hash.</summary>
    public byte[] FinalizeToArray()
    {
        var hash = new byte[Blake3.HashSizeInBytes];
        _hasher.Finalize(hash);
        return hash;
    }

    /// <summary>Writes extended output starting at byte <paramref name="seek"/> of the unbounded output stream.</summary>
    public void FinalizeXof(Span<byte> output, ulong seek = 0) => _hasher.Finalize(seek, output);

    /// <summary>Forgets all input; the key and mode stay.</summary>
    public void Reset() => _hasher.Reset();
}
