using System.Buffers.Binary;
using static KontinuumP2P.Certs.Hashing.Blake3Constants;

namespace KontinuumP2P.Certs.Hashing;

/// <summary>Incremental BLAKE3 in any of its three modes (hash, keyed hash, derive key). Feed input with
/// <see cref="Update"/> as often as needed; finalising does not consume the state, so more input may follow.
/// Allocates only when constructed. Not thread-safe.</summary>
public sealed class Blake3Hasher
{
    private Blake3State _state;

    /// <summary>A hasher for the plain (unkeyed) hash.</summary>
    public Blake3Hasher() : this(Blake3Backends.Best)
    {
    }

    internal Blake3Hasher(Blake3Backend backend) : this(Blake3Constants.IV, 0, backend)
    {
    }

    private Blake3Hasher(ReadOnlySpan<uint> key, uint flags, Blake3Backend backend)
    {
        if (!Blake3Backends.IsSupported(backend))
            throw new NotSupportedException($"the {backend} BLAKE3 code needs instructions this CPU lacks");
        _state = new Blake3State(key, flags, backend);
    }

    /// <summary>A hasher for the keyed hash (a MAC / PRF) with a 32-byte key.</summary>
    /// <exception cref="ArgumentException">The key is not 32 bytes.</exception>
    public static Blake3Hasher CreateKeyed(ReadOnlySpan<byte> key) => CreateKeyed(key, Blake3Backends.Best);

    internal static Blake3Hasher CreateKeyed(ReadOnlySpan<byte> key, Blake3Backend backend)
    {
        if (key.Length != KeyLength) throw new ArgumentException($"a BLAKE3 key is {KeyLength} bytes, not {key.Length}", nameof(key));
        Span<uint> words = stackalloc uint[8];
        for (var i = 0; i < 8; i++) words[i] = BinaryPrimitives.ReadUInt32LittleEndian(key[(4 * i)..]);
        return new Blake3Hasher(words, Blake3Constants.KeyedHash, backend);
    }

    /// <summary>A hasher for key derivation: feed it the key material; the output is the derived key.</summary>
    /// <param name="context">A hard-coded, globally unique, application-specific string, e.g.
    /// "KontinuumP2P 2026-11-23 mailbox session key". Never key material.</param>
    public static Blake3Hasher CreateDeriveKey(string context) => CreateDeriveKey(context, Blake3Backends.Best);

    internal static Blake3Hasher CreateDeriveKey(string context, Blake3Backend backend)
    {
        ArgumentNullException.ThrowIfNull(context);
        var contextHasher = new Blake3Hasher(Blake3Constants.IV, DeriveKeyContext, backend);
        contextHasher.Update(System.Text.Encoding.UTF8.GetBytes(context));
        Span<byte> contextKey = stackalloc byte[KeyLength];
        contextHasher.Finalize(contextKey);
        Span<uint> words = stackalloc uint[8];
        for (var i = 0; i < 8; i++) words[i] = BinaryPrimitives.ReadUInt32LittleEndian(contextKey[(4 * i)..]);
        return new Blake3Hasher(words, DeriveKeyMaterial, backend);
    }

    /// <summary>Adds input. Any split of the same bytes across calls gives the same result.</summary>
    public void Update(ReadOnlySpan<byte> input) => _state.Update(input);

    /// <summary>Writes the first <paramref name="output"/>.Length bytes of the output (32 is the standard hash;
    /// longer is the extended output).</summary>
    public void Finalize(Span<byte> output) => _state.Finalize(output, 0);

    /// <summary>Returns the standard 32-byte hash.</summary>
    public byte[] FinalizeToArray()
    {
        var hash = new byte[OutputLength];
        _state.Finalize(hash, 0);
        return hash;
    }

    /// <summary>Writes extended output starting at byte <paramref name="seek"/> of the unbounded output stream.</summary>
    public void FinalizeXof(Span<byte> output, ulong seek = 0) => _state.Finalize(output, seek);

    /// <summary>Forgets all input; the key and mode stay.</summary>
    public void Reset() => _state.Reset();
}
