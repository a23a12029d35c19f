using System.Buffers;
using System.Numerics;
using KontinuumP2P.Core.Resources;

namespace KontinuumP2P.Mailbox.Wire;

/// <summary>
/// A pooled buffer whose size is reserved in a stream's resource scope before it is rented and released when it is
/// returned, so a peer's large frames and chunks count against its peer, protocol and system memory limits.
/// </summary>
internal readonly struct ScopedBuffer : IDisposable
{
    private readonly ResourceScope? _scope;
    private readonly long _charged;

    private ScopedBuffer(byte[] array, ResourceScope? scope, long charged)
    {
        Array = array;
        _scope = scope;
        _charged = charged;
    }

    /// <summary>The rented array (at least the length asked for).</summary>
    public byte[] Array { get; }

    /// <summary>
    /// Reserves then rents at least <paramref name="length"/> bytes; a null <paramref name="scope"/> (a stream the host
    /// keeps no scope for) only rents.
    /// </summary>
    /// <exception cref="ResourceLimitExceededException">A scope is full; its message names the scope and resource.</exception>
    public static ScopedBuffer Rent(ResourceScope? scope, int length, string purpose)
    {
        // The shared pool hands out power-of-two arrays: charge what is actually held.
        var charged = (long)BitOperations.RoundUpToPowerOf2((uint)Math.Max(length, 16));
        scope?.ReserveMemory(charged, purpose);
        try
        {
            return new ScopedBuffer(ArrayPool<byte>.Shared.Rent(length), scope, charged);
        }
        catch
        {
            scope?.ReleaseMemory(charged);
            throw;
        }
    }

    /// <summary>Returns the array and releases the reservation.</summary>
    public void Dispose()
    {
        if (Array is null) return;
        ArrayPool<byte>.Shared.Return(Array);
        _scope?.ReleaseMemory(_charged);
    }
}
