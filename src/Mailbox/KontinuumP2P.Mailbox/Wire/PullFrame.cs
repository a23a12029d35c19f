using System.Buffers.Binary;
using KontinuumP2P.Core.Codecs;

namespace KontinuumP2P.Mailbox.Wire;

/// <summary>
/// One pull answer encoded straight into a pooled buffer: the length-prefixed <c>Response{request_id, pull}</c>
/// frame, byte for byte what the generated code writes for the same values, built without a message object per
/// blob. Blobs are appended as they are read (from SQLite's row memory); <see cref="Finish"/> adds the page's
/// fields and writes the headers into the room kept in front. The buffer is charged to the stream's scope while held.
/// </summary>
internal sealed class PullFrame : IDisposable
{
    // Frame length (≤ 5) + request_id tag and varint (≤ 11) + pull tag and length (≤ 6).
    private const int HeaderRoom = 32;
    // has_more (2) + max_cursor (≤ 11) + epoch (9).
    private const int TrailerRoom = 24;
    private const int FirstSize = 64 << 10;
    private readonly Core.Resources.ResourceScope? _scope;
    private readonly int _maxFrameBytes;
    private ScopedBuffer _lease;
    private byte[] _buffer;
    private int _end = HeaderRoom;
    private int _start = -1;

    /// <param name="scope">The stream's scope the buffer is charged to (null: not charged).</param>
    /// <param name="maxFrameBytes">The page's frame cap (what the client accepts), so growth is bounded.</param>
    public PullFrame(Core.Resources.ResourceScope? scope, int maxFrameBytes)
    {
        _scope = scope;
        _maxFrameBytes = maxFrameBytes;
        _lease = ScopedBuffer.Rent(scope, Math.Min(FirstSize, maxFrameBytes + HeaderRoom), "a pull page");
        _buffer = _lease.Array;
    }

    /// <summary>Blobs appended so far.</summary>
    public int Count { get; private set; }

    /// <summary>The last appended blob's cursor (0 when none).</summary>
    public ulong LastCursor { get; private set; }

    /// <summary>The encoded frame, valid after <see cref="Finish"/> until disposal.</summary>
    public ReadOnlyMemory<byte> Frame => _start < 0 ? throw new InvalidOperationException("the frame is not finished") : _buffer.AsMemory(_start, _end - _start);

    /// <summary>Appends <c>Blob{cursor, blob_id, data}</c> as one element of <c>PullResult.blobs</c>.</summary>
    /// <exception cref="InvalidOperationException">The frame would exceed its cap (the caller's byte limit failed).</exception>
    public void Add(ulong cursor, ReadOnlySpan<byte> blobId, ReadOnlySpan<byte> data)
    {
        var inner = FieldSize(1, cursor) + BytesSize(blobId.Length) + BytesSize(data.Length);
        var size = 1 + Varint.SizeOf((ulong)inner) + inner;
        Ensure(size);
        var span = _buffer.AsSpan(_end);
        var at = 0;
        span[at++] = 0x0A;
        at += WriteVarint(span[at..], (ulong)inner);
        if (cursor != 0)
        {
            span[at++] = 0x08;
            at += WriteVarint(span[at..], cursor);
        }
        at += WriteBytes(span[at..], 0x12, blobId);
        at += WriteBytes(span[at..], 0x1A, data);
        _end += at;
        Count++;
        LastCursor = cursor;
    }

    /// <summary>Adds the page's own fields and the headers; the frame is then <see cref="Frame"/>.</summary>
    public ReadOnlyMemory<byte> Finish(ulong requestId, bool hasMore, ulong maxCursor, ulong epoch)
    {
        if (_start >= 0) throw new InvalidOperationException("the frame is already finished");
        Ensure(TrailerRoom);
        var span = _buffer.AsSpan(_end);
        var at = 0;
        if (hasMore)
        {
            span[at++] = 0x10;
            span[at++] = 1;
        }
        if (maxCursor != 0)
        {
            span[at++] = 0x18;
            at += WriteVarint(span[at..], maxCursor);
        }
        if (epoch != 0)
        {
            span[at++] = 0x21;
            BinaryPrimitives.WriteUInt64LittleEndian(span[at..], epoch);
            at += 8;
        }
        _end += at;
        var pullLength = (ulong)(_end - HeaderRoom);
        var responseLength = FieldSize(1, requestId) + 1 + Varint.SizeOf(pullLength) + (long)pullLength;
        var frameStart = HeaderRoom - (int)(responseLength - (long)pullLength) - Varint.SizeOf((ulong)responseLength);
        var header = _buffer.AsSpan(frameStart, HeaderRoom - frameStart);
        var h = WriteVarint(header, (ulong)responseLength);
        if (requestId != 0)
        {
            header[h++] = 0x08;
            h += WriteVarint(header[h..], requestId);
        }
        header[h++] = 0x22;
        WriteVarint(header[h..], pullLength);
        _start = frameStart;
        return Frame;
    }

    /// <summary>Returns the buffer to the pool and releases its charge.</summary>
    public void Dispose()
    {
        _lease.Dispose();
        _lease = default;
        _buffer = [];
    }

    private void Ensure(int more)
    {
        var needed = (long)_end + more;
        if (needed <= _buffer.Length) return;
        if (needed - HeaderRoom > (long)_maxFrameBytes) throw new InvalidOperationException($"a pull page would exceed its {_maxFrameBytes}-byte frame cap");
        var size = (int)Math.Min(Math.Max(needed, (long)_buffer.Length * 2), (long)_maxFrameBytes + HeaderRoom + TrailerRoom);
        var grown = ScopedBuffer.Rent(_scope, size, "a pull page");
        _buffer.AsSpan(0, _end).CopyTo(grown.Array);
        _lease.Dispose();
        _lease = grown;
        _buffer = grown.Array;
    }

    private static int FieldSize(int tagBytes, ulong value) => value == 0 ? 0 : tagBytes + Varint.SizeOf(value);

    private static int BytesSize(int length) => length == 0 ? 0 : 1 + Varint.SizeOf((ulong)length) + length;

    private static int WriteBytes(Span<byte> span, byte tag, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return 0;
        span[0] = tag;
        var at = 1 + WriteVarint(span[1..], (ulong)bytes.Length);
        bytes.CopyTo(span[at..]);
        return at + bytes.Length;
    }

    /// <summary>A protobuf varint: 64 bits (Core's multiformats varint stops at 63, and a request id may use all 64).</summary>
    private static int WriteVarint(Span<byte> span, ulong value)
    {
        var at = 0;
        while (value >= 0x80)
        {
            span[at++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[at++] = (byte)value;
        return at;
    }
}
