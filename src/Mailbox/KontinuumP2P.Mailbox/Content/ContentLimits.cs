namespace KontinuumP2P.Mailbox.Content;

/// <summary>Hard bounds of the content format and protocol, and the configurable size limit.</summary>
public sealed record ContentLimits
{
    /// <summary>The default chunk size (plaintext bytes).</summary>
    public const int DefaultChunkSize = 256 << 10;

    /// <summary>Smallest chunk size accepted.</summary>
    public const int MinChunkSize = 4 << 10;

    /// <summary>Largest chunk size accepted (a chunk and its frame fit the mailbox frame cap).</summary>
    public const int MaxChunkSize = 1 << 20;

    /// <summary>Most chunks in one content (its manifest is then 512 KiB).</summary>
    public const int MaxChunkCount = 16_384;

    /// <summary>The default largest content: 100 MiB.</summary>
    public const long DefaultMaxContentBytes = 100L << 20;

    /// <summary>Largest content (plaintext bytes) accepted; at most <see cref="MaxChunkSize"/> × <see cref="MaxChunkCount"/>.</summary>
    public long MaxContentBytes { get; init; } = DefaultMaxContentBytes;

    /// <summary>Smallest chunk size accepted here (within <see cref="MinChunkSize"/>..<see cref="MaxChunkSize"/>).</summary>
    public int MinChunkBytes { get; init; } = MinChunkSize;

    /// <summary>Largest chunk size accepted here (within <see cref="MinChunkBytes"/>..<see cref="MaxChunkSize"/>).</summary>
    public int MaxChunkBytes { get; init; } = MaxChunkSize;

    /// <summary>Checks the shape of a content against these limits; the message says which bound it broke.</summary>
    /// <exception cref="ContentException">Too large, a chunk size out of bounds, or too many chunks.</exception>
    public void Check(long size, int chunkSize, long chunkCount)
    {
        if (chunkSize < MinChunkBytes || chunkSize > MaxChunkBytes)
            throw new ContentException(ContentErrorCode.BadChunkSize, $"chunk size {chunkSize} is outside {MinChunkBytes}..{MaxChunkBytes}");
        if (size < 0 || size > MaxContentBytes)
            throw new ContentException(ContentErrorCode.ContentTooLarge, $"content of {size} bytes is over the {MaxContentBytes}-byte limit");
        if (chunkCount > MaxChunkCount)
            throw new ContentException(ContentErrorCode.TooManyChunks, $"{chunkCount} chunks is over the {MaxChunkCount}-chunk limit");
        if (chunkCount != ChunkCountOf(size, chunkSize))
            throw new ContentException(ContentErrorCode.BadManifest, $"{chunkCount} chunks do not match {size} bytes in {chunkSize}-byte chunks");
    }

    /// <summary>Chunks of a content (an empty content has one empty chunk, so it still has a tag to verify).</summary>
    public static long ChunkCountOf(long size, int chunkSize) => size == 0 ? 1 : ((size - 1) / chunkSize) + 1;

    /// <summary>Validates the configured limits.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive, chunk bounds outside the format's, or over what the format can address.</exception>
    public void Validate()
    {
        if (MinChunkBytes is < MinChunkSize or > MaxChunkSize)
            throw new ArgumentOutOfRangeException(nameof(MinChunkBytes), MinChunkBytes, $"must be {MinChunkSize}..{MaxChunkSize}");
        if (MaxChunkBytes < MinChunkBytes || MaxChunkBytes > MaxChunkSize)
            throw new ArgumentOutOfRangeException(nameof(MaxChunkBytes), MaxChunkBytes, $"must be {MinChunkBytes}..{MaxChunkSize}");
        if (MaxContentBytes <= 0 || MaxContentBytes > (long)MaxChunkSize * MaxChunkCount)
            throw new ArgumentOutOfRangeException(nameof(MaxContentBytes), MaxContentBytes, $"must be 1..{(long)MaxChunkSize * MaxChunkCount}");
    }
}

/// <summary>The distinct refusals of the content layer (format checks, the store and the protocol).</summary>
public enum ContentErrorCode
{
    /// <summary>Unknown or unset.</summary>
    Unspecified = 0,

    /// <summary>The capability does not open the named mailbox on this node.</summary>
    Unauthorized = 1,

    /// <summary>The content is over the size limit.</summary>
    ContentTooLarge = 2,

    /// <summary>More chunks than the format allows.</summary>
    TooManyChunks = 3,

    /// <summary>A chunk size outside the allowed range.</summary>
    BadChunkSize = 4,

    /// <summary>The manifest is malformed or does not hash to the content id.</summary>
    BadManifest = 5,

    /// <summary>A chunk does not hash to its entry in the manifest (corrupted, reordered or swapped).</summary>
    BadChunk = 6,

    /// <summary>The store is at its byte or content quota.</summary>
    QuotaExceeded = 7,

    /// <summary>The node holds no such content.</summary>
    UnknownContent = 8,

    /// <summary>A chunk index or range outside the content, or a range over the fetch limit.</summary>
    BadRange = 9,

    /// <summary>A request was not understood; the stream is closed.</summary>
    Malformed = 10,

    /// <summary>The node serves as many content streams as it allows.</summary>
    TooManySessions = 11,

    /// <summary>The node is stopping.</summary>
    ShuttingDown = 12,

    /// <summary>The node failed (for example its disk); nothing was stored.</summary>
    Internal = 13,

    /// <summary>A chunk failed authentication with the content key (wrong key or altered bytes).</summary>
    DecryptFailed = 14,

    /// <summary>No holder could supply a verified copy of some chunk.</summary>
    Unavailable = 15,
}

/// <summary>A refusal or verification failure of the content layer.</summary>
public sealed class ContentException : IOException
{
    /// <summary>Creates the exception.</summary>
    public ContentException(ContentErrorCode code, string message, Exception? inner = null) : base($"{code}: {message}", inner) => Code = code;

    /// <summary>Creates the exception.</summary>
    public ContentException() : this(ContentErrorCode.Unspecified, "content error") { }

    /// <summary>Creates the exception.</summary>
    public ContentException(string message) : this(ContentErrorCode.Unspecified, message) { }

    /// <summary>Creates the exception.</summary>
    public ContentException(string message, Exception inner) : this(ContentErrorCode.Unspecified, message, inner) { }

    /// <summary>The refusal.</summary>
    public ContentErrorCode Code { get; }
}
