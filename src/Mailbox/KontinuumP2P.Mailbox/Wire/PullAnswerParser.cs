using System.Buffers.Binary;
using KontinuumP2P.Mailbox.Protos;

namespace KontinuumP2P.Mailbox.Wire;

/// <summary>
/// The client's parse of a <c>Response{request_id, pull}</c> frame without a message object and two copies per blob:
/// every blob id and body is copied once into shared 64 KiB chunks (a larger blob gets its own array) and the page's
/// <see cref="MailboxBlob"/>s point into them. Only the fields <c>PullFrame</c> and the generated code write are
/// accepted; anything else (another answer, unknown fields, a bad length) returns null and the generated parser
/// handles the frame, so errors are reported as before.
/// </summary>
internal static class PullAnswerParser
{
    private const int ChunkSize = 64 << 10;

    /// <summary>Parses a pull answer; null when the frame is anything else or not in the expected shape.</summary>
    public static (Response Marker, MailboxPullResult Page)? TryParse(ReadOnlySpan<byte> frame)
    {
        ulong requestId = 0;
        var at = 0;
        ReadOnlySpan<byte> pull = default;
        var sawPull = false;
        while (at < frame.Length)
        {
            var tag = frame[at++];
            if (tag == 0x08 && TryVarint(frame, ref at, out requestId)) continue;
            if (tag == 0x22 && !sawPull && TryBytes(frame, ref at, out pull))
            {
                sawPull = true;
                continue;
            }
            return null;
        }
        if (!sawPull) return null;
        // First pass: validate the shape and size the copies; nothing is allocated for a frame that falls back.
        if (!Walk(pull, null, out var count, out var hasMore, out var maxCursor, out var epoch)) return null;
        var blobs = new List<MailboxBlob>(count);
        Walk(pull, blobs, out _, out _, out _, out _);
        var marker = new Response { RequestId = requestId, Pull = new PullResult { HasMore = hasMore, MaxCursor = maxCursor, Epoch = epoch } };
        return (marker, new MailboxPullResult(blobs, hasMore, maxCursor, epoch));
    }

    private static bool Walk(ReadOnlySpan<byte> pull, List<MailboxBlob>? into, out int count, out bool hasMore, out ulong maxCursor, out ulong epoch)
    {
        count = 0;
        hasMore = false;
        maxCursor = 0;
        epoch = 0;
        var chunk = Array.Empty<byte>();
        var used = 0;
        var at = 0;
        while (at < pull.Length)
        {
            var tag = pull[at++];
            switch (tag)
            {
                case 0x0A when TryBytes(pull, ref at, out var blob):
                    if (!TryBlob(blob, out var cursor, out var id, out var data)) return false;
                    count++;
                    if (into is not null) into.Add(new MailboxBlob(cursor, Copy(id, ref chunk, ref used), Copy(data, ref chunk, ref used)));
                    break;
                case 0x10 when TryVarint(pull, ref at, out var more) && more <= 1:
                    hasMore = more == 1;
                    break;
                case 0x18 when TryVarint(pull, ref at, out var max):
                    maxCursor = max;
                    break;
                case 0x21 when at + 8 <= pull.Length:
                    epoch = BinaryPrimitives.ReadUInt64LittleEndian(pull[at..]);
                    at += 8;
                    break;
                default:
                    return false;
            }
        }
        return true;
    }

    private static bool TryBlob(ReadOnlySpan<byte> blob, out ulong cursor, out ReadOnlySpan<byte> id, out ReadOnlySpan<byte> data)
    {
        cursor = 0;
        id = default;
        data = default;
        var at = 0;
        while (at < blob.Length)
        {
            var tag = blob[at++];
            var ok = tag switch
            {
                0x08 => TryVarint(blob, ref at, out cursor),
                0x12 => TryBytes(blob, ref at, out id),
                0x1A => TryBytes(blob, ref at, out data),
                _ => false,
            };
            if (!ok) return false;
        }
        return true;
    }

    private static ReadOnlyMemory<byte> Copy(ReadOnlySpan<byte> bytes, ref byte[] chunk, ref int used)
    {
        if (bytes.IsEmpty) return ReadOnlyMemory<byte>.Empty;
        if (bytes.Length > ChunkSize / 4) return bytes.ToArray();
        if (chunk.Length - used < bytes.Length)
        {
            chunk = GC.AllocateUninitializedArray<byte>(ChunkSize);
            used = 0;
        }
        bytes.CopyTo(chunk.AsSpan(used));
        var memory = new ReadOnlyMemory<byte>(chunk, used, bytes.Length);
        used += bytes.Length;
        return memory;
    }

    private static bool TryBytes(ReadOnlySpan<byte> span, scoped ref int at, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (!TryVarint(span, ref at, out var length) || length > (ulong)(span.Length - at)) return false;
        bytes = span.Slice(at, (int)length);
        at += (int)length;
        return true;
    }

    private static bool TryVarint(ReadOnlySpan<byte> span, ref int at, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && at < span.Length; shift += 7)
        {
            var b = span[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }
}
