using Google.Protobuf;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Protos.Content;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// What a receiver needs to fetch, verify and decrypt a content: its id, shape and key. It travels as the plaintext of
/// an ordinary mailbox blob (so the group key seals it): the marker <c>kcref/1\n</c> and a protobuf message.
/// </summary>
/// <param name="Id">The content id.</param>
/// <param name="Size">Plaintext bytes.</param>
/// <param name="ChunkSize">Plaintext bytes per chunk.</param>
/// <param name="ChunkCount">Number of chunks.</param>
/// <param name="Key">The content's 32-byte key (secret).</param>
/// <param name="Name">A file name chosen by the sender, for display (may be empty).</param>
public sealed record ContentReference(ContentId Id, long Size, int ChunkSize, int ChunkCount, byte[] Key, string Name)
{
    /// <summary>Longest name kept.</summary>
    public const int MaxNameLength = 255;

    /// <summary>Most sender addresses a reference carries.</summary>
    public const int MaxSenderAddresses = 8;

    private static ReadOnlySpan<byte> Marker => "kcref/1\n"u8;

    /// <summary>
    /// The sending device, which serves the content itself while it is online (<see cref="ContentSenderServer"/>); a
    /// download falls back to it for chunks no mailbox node can supply. Null when the sender does not serve.
    /// </summary>
    public PeerId? Sender { get; init; }

    /// <summary>Where <see cref="Sender"/> listens (at most <see cref="MaxSenderAddresses"/>).</summary>
    public IReadOnlyList<Multiaddr> SenderAddresses { get; init; } = [];

    /// <summary>The plaintext to push as a mailbox blob.</summary>
    public byte[] ToBlob()
    {
        var dto = new ContentReferenceDto
        {
            ContentId = ByteString.CopyFrom(Id.Digest),
            Size = (ulong)Size,
            ChunkSize = (uint)ChunkSize,
            ChunkCount = (uint)ChunkCount,
            Key = ByteString.CopyFrom(Key),
            Name = Name ?? "",
        };
        if (Sender is { } sender)
        {
            dto.Sender = ByteString.CopyFrom(sender.Bytes);
            dto.SenderAddrs.AddRange(SenderAddresses.Take(MaxSenderAddresses).Select(a => ByteString.CopyFrom(a.ToBytes())));
        }
        return [.. Marker, .. dto.ToByteArray()];
    }

    /// <summary>True when a pulled blob's plaintext starts with the reference marker.</summary>
    public static bool IsReference(ReadOnlySpan<byte> blob) => blob.StartsWith(Marker);

    /// <summary>Parses a blob's plaintext and checks it against <paramref name="limits"/>.</summary>
    /// <exception cref="ContentException">Not a reference, malformed, or over a limit.</exception>
    public static ContentReference FromBlob(ReadOnlySpan<byte> blob, ContentLimits? limits = null)
    {
        limits ??= new ContentLimits();
        if (!IsReference(blob)) throw new ContentException(ContentErrorCode.BadManifest, "the blob is not a content reference");
        ContentReferenceDto dto;
        try
        {
            dto = ContentReferenceDto.Parser.ParseFrom(blob[Marker.Length..]);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ContentException(ContentErrorCode.BadManifest, "the content reference is malformed", e);
        }
        if (dto.ContentId.Length != 32 || dto.Key.Length != ContentCipher.KeyLength || dto.Size > long.MaxValue || dto.Name.Length > MaxNameLength)
            throw new ContentException(ContentErrorCode.BadManifest, "the content reference has a bad id, key, size or name");
        limits.Check((long)dto.Size, (int)Math.Min(dto.ChunkSize, int.MaxValue), dto.ChunkCount);
        PeerId? sender = null;
        List<Multiaddr> addresses = [];
        try
        {
            if (dto.Sender.Length > 0)
            {
                if (dto.Sender.Length > 128 || dto.SenderAddrs.Count > MaxSenderAddresses || dto.SenderAddrs.Any(a => a.Length > 256))
                    throw new ContentException(ContentErrorCode.BadManifest, "the content reference's sender is too long or has too many addresses");
                sender = PeerId.FromBytes(dto.Sender.Span);
                addresses = [.. dto.SenderAddrs.Select(a => Multiaddr.FromBytes(a.Span))];
            }
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidDataException)
        {
            throw new ContentException(ContentErrorCode.BadManifest, "the content reference's sender is malformed", e);
        }
        return new ContentReference(ContentId.FromDigest(dto.ContentId.Span), (long)dto.Size, (int)dto.ChunkSize, (int)dto.ChunkCount,
            dto.Key.ToByteArray(), dto.Name) { Sender = sender, SenderAddresses = addresses };
    }

    /// <summary>A copy-paste form (base64url of <see cref="ToBlob"/>); it holds the key, so treat it as a secret.</summary>
    public string ToText() => Convert.ToBase64String(ToBlob()).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Parses <see cref="ToText"/>.</summary>
    /// <exception cref="ContentException">Not a reference.</exception>
    public static ContentReference ParseText(string text, ContentLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > 4096) throw new ContentException(ContentErrorCode.BadManifest, "the reference text is too long");
        var b64 = text.Trim().Replace('-', '+').Replace('_', '/');
        b64 = b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=');
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(b64);
        }
        catch (FormatException e)
        {
            throw new ContentException(ContentErrorCode.BadManifest, "the reference text is not base64url", e);
        }
        return FromBlob(bytes, limits);
    }

    /// <summary>Checks the reference matches a manifest fetched for it.</summary>
    /// <exception cref="ContentException">Another id or shape.</exception>
    internal void Match(ContentManifest manifest)
    {
        if (manifest.Id != Id || manifest.Size != Size || manifest.ChunkSize != ChunkSize || manifest.ChunkCount != ChunkCount)
            throw new ContentException(ContentErrorCode.BadManifest, "the manifest does not match the reference");
    }
}
